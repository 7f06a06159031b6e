"""What the SAM template promises on a real AWS account, read from the template
itself: the parts the emulator cannot show (CORS on AWS, the authorizer's
identity sources, secrets, log retention, throttling, access logs, redeploys)."""
import pathlib

from cfnlint.decode import decode

REPO = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE, _ = decode(str(REPO / "deploy" / "template.yaml"))
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = {name: body for name, body in RESOURCES.items() if body["Type"] == "AWS::Serverless::Function"}


def test_the_http_api_answers_preflights_for_the_page():
    cors = RESOURCES["HttpApi"]["Properties"]["CorsConfiguration"]
    assert cors["AllowOrigins"] == {"Ref": "AllowedOrigins"}
    assert "POST" in cors["AllowMethods"]
    assert "content-type" in [header.lower() for header in cors["AllowHeaders"]]
    assert TEMPLATE["Parameters"]["AllowedOrigins"]["Type"] == "CommaDelimitedList"


def test_the_authorizer_has_no_identity_source_on_aws():
    # With one, API Gateway answers 401 itself when that source is missing, so
    # a token in Authorization: Bearer (or in ?token=) could never get through.
    source = RESOURCES["Authorizer"]["Properties"]["IdentitySource"]
    assert source == {"Fn::If": ["OnAws", {"Ref": "AWS::NoValue"}, []]}
    assert RESOURCES["Authorizer"]["Properties"]["AuthorizerType"] == "REQUEST"


def test_only_login_and_the_authorizer_can_read_the_token_secret():
    assert RESOURCES["JwtSecret"]["Type"] == "AWS::SecretsManager::Secret"
    assert "JwtSecret" not in TEMPLATE["Parameters"]
    global_variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert not any("SECRET" in name for name in global_variables)
    readers = set()
    for name, function in FUNCTIONS.items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        statements = [s for policy in function["Properties"].get("Policies", []) if isinstance(policy, dict)
                      for s in policy.get("Statement", [])]
        reads = [s for s in statements if "secretsmanager:GetSecretValue" in str(s["Action"])]
        if "JWT_SECRET_ARN" in variables:
            assert variables["JWT_SECRET_ARN"] == {"Ref": "JwtSecret"}
            assert reads and all(s["Resource"] == {"Ref": "JwtSecret"} for s in reads)
            readers.add(name)
        else:
            assert not reads, f"{name} may read the secret without needing it"
    assert readers == {"LoginFunction", "AuthorizerFunction"}


def test_every_function_logs_to_a_group_with_retention():
    groups = {body["Properties"]["LogGroupName"]["Fn::Sub"]: body for body in RESOURCES.values()
              if body["Type"] == "AWS::Logs::LogGroup" and "LogGroupName" in body["Properties"]}
    for name in FUNCTIONS:
        group = groups.get(f"/aws/lambda/${{{name}}}")
        assert group, f"{name} has no log group of its own"
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_both_stages_redeploy_on_update_and_keep_access_logs():
    http, websocket = RESOURCES["HttpStage"]["Properties"], RESOURCES["WebSocketStage"]["Properties"]
    assert http["AutoDeploy"] is True and websocket["AutoDeploy"] is True
    assert "DeploymentId" not in websocket
    assert not [name for name, body in RESOURCES.items() if body["Type"] == "AWS::ApiGatewayV2::Deployment"]
    assert http["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": ["HttpAccessLogs", "Arn"]}
    assert "$context.status" in http["AccessLogSettings"]["Format"]
    assert websocket["AccessLogSettings"]["Fn::If"][0] == "WebSocketAccessLogs"
    assert websocket["AccessLogSettings"]["Fn::If"][1]["DestinationArn"] == {"Fn::GetAtt": ["WebSocketAccessLogs", "Arn"]}
    # The stage comes after its routes, so its first automatic deployment has them all.
    routes = {name for name, body in RESOURCES.items()
              if body["Type"] == "AWS::ApiGatewayV2::Route" and body["Properties"]["ApiId"] == {"Ref": "WebSocketApi"}}
    assert set(RESOURCES["WebSocketStage"]["DependsOn"]) == routes


def test_the_http_api_is_throttled_before_any_lambda_runs():
    settings = RESOURCES["HttpStage"]["Properties"]["DefaultRouteSettings"]
    assert settings["ThrottlingRateLimit"] == {"Ref": "AuthRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "AuthBurstLimit"}


def test_sam_builds_every_function_with_the_makefile_for_the_chosen_cpu():
    assert TEMPLATE["Globals"]["Function"]["Architectures"] == [{"Ref": "Architecture"}]
    assert TEMPLATE["Parameters"]["Architecture"]["Default"] == "arm64"
    for name, function in FUNCTIONS.items():
        assert function.get("Metadata", {}).get("BuildMethod") == "makefile", name
        assert function["Properties"]["CodeUri"] == "..", name
    makefile = (REPO / "Makefile").read_text()
    assert "build-%Function:" in makefile


def test_the_functions_settings_use_the_names_chatconfig_reads():
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    source = (REPO / "Sources" / "ChatCore" / "ChatConfig.swift").read_text()
    for name in ("TOKEN_LIFETIME_SECONDS", "MESSAGE_RETENTION_DAYS"):
        assert name in variables
        assert f'"{name}"' in source


def route_table():
    """The route names of `enum Route` (Sources/ChatHandlers/Route.swift): the one route table."""
    source = (REPO / "Sources" / "ChatHandlers" / "Route.swift").read_text()
    body = source.split("public enum Route", 1)[1].split("/// The event shape a route takes.", 1)[0]
    names = []
    for line in body.splitlines():
        line = line.strip()
        if line.startswith("case ") and "=" not in line:
            names += [name.strip() for name in line[len("case "):].split(",")]
    return set(names) | {"default"}


def test_every_route_of_the_route_table_has_its_function_and_websocket_route():
    handlers = {function["Properties"]["Handler"] for function in FUNCTIONS.values()}
    assert handlers == route_table()
    assert {"typing", "editMessage", "deleteMessage", "react", "unreact", "markRead", "getUnread"} <= handlers
    keys = {body["Properties"]["RouteKey"] for body in RESOURCES.values()
            if body["Type"] == "AWS::ApiGatewayV2::Route" and body["Properties"]["ApiId"] == {"Ref": "WebSocketApi"}}
    actions = handlers - {"register", "login", "authorizer", "connect", "disconnect", "default"}
    assert keys == actions | {"$connect", "$disconnect", "$default"}


def test_only_edits_deletes_and_reactions_may_update_items():
    updaters = set()
    for name, function in FUNCTIONS.items():
        policies = function["Properties"].get("Policies", [])
        if {"Ref": "MessageChangePolicy"} in policies:
            updaters.add(function["Properties"]["Handler"])
    assert updaters == {"editMessage", "deleteMessage", "react", "unreact"}
    statements = RESOURCES["MessageChangePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statements == [{"Effect": "Allow", "Action": ["dynamodb:UpdateItem"], "Resource": {"Fn::GetAtt": ["Table", "Arn"]}}]
    for name, body in RESOURCES.items():
        if name != "MessageChangePolicy" and body["Type"] == "AWS::IAM::ManagedPolicy":
            assert "UpdateItem" not in str(body), name
