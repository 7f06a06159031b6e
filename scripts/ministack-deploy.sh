#!/usr/bin/env bash
# Deploys deploy/template.yaml, with a given bootstrap binary, into a running
# ministack (the AWS emulator), the way `sam deploy` would on AWS:
# package (zip -> the emulator's S3, CodeUri rewritten), deploy the stack (the SAM
# transform runs inside ministack), then enable TTL (ministack ignores
# TimeToLiveSpecification). Prints the stack's outputs as one JSON line.
#
#   PORT=4566 BOOTSTRAP=.build/debug/bootstrap scripts/ministack-deploy.sh
#   (TEST_PASSWORD_ITERATIONS=1000 as well, for the test suite's cheap hashing;
#   ALLOWED_ORIGINS=http://127.0.0.1:8000 for the pages allowed to call the HTTP API, default *)
#
# Where ministack differs from AWS, this script makes up for it, and says so:
# CORS (ministack stores a template's CorsConfiguration but never applies it:
# set again here through the API), TTL, and the host's CPU as Architecture
# (ministack runs the binary natively).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
: "${PORT:?PORT of the running ministack}"
: "${BOOTSTRAP:?path of the bootstrap binary to deploy}"
STACK=${STACK:-chatroom-test}
BUCKET=${BUCKET:-chatroom-artifacts}
ALLOWED_ORIGINS=${ALLOWED_ORIGINS:-*}
case "$(uname -m)" in aarch64|arm64) ARCHITECTURE=arm64 ;; *) ARCHITECTURE=x86_64 ;; esac
"$here/scripts/lambda-check" "$BOOTSTRAP" --architecture "$ARCHITECTURE" >/dev/null

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT"
unset AWS_SESSION_TOKEN AWS_PROFILE

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/code"
cp "$BOOTSTRAP" "$work/code/bootstrap"
chmod 755 "$work/code/bootstrap"
# A folder holding only the binary, where `sam build` would have put it:
# `package` zips it, keeping the executable bit, which is what the emulator unpacks.
sed "s#^\( *\)CodeUri: \.\.\$#\1CodeUri: $work/code#" "$here/deploy/template.yaml" > "$work/template.yaml"
grep -q "CodeUri: $work/code" "$work/template.yaml" || { echo "could not point CodeUri at the binary" >&2; exit 1; }
# The test suite's cheap password hashing (never on AWS): TEST_PASSWORD_ITERATIONS
# becomes the functions' CHATROOM_TEST_PASSWORD_ITERATIONS.
if [ -n "${TEST_PASSWORD_ITERATIONS:-}" ]; then
  sed -i "s#^\( *\)MESSAGE_RETENTION_DAYS: !Ref MessageRetentionDays#&\n\1CHATROOM_TEST_PASSWORD_ITERATIONS: \"$TEST_PASSWORD_ITERATIONS\"#" "$work/template.yaml"
  grep -q CHATROOM_TEST_PASSWORD_ITERATIONS "$work/template.yaml" || { echo "could not set the test password iterations" >&2; exit 1; }
fi

aws s3api head-bucket --bucket "$BUCKET" >/dev/null 2>&1 || aws s3 mb "s3://$BUCKET" >/dev/null
aws cloudformation package --template-file "$work/template.yaml" --s3-bucket "$BUCKET" \
    --output-template-file "$work/packaged.yaml" >/dev/null
aws cloudformation deploy --template-file "$work/packaged.yaml" --stack-name "$STACK" \
    --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
    --parameter-overrides Target=emulator "Architecture=$ARCHITECTURE" "AllowedOrigins=$ALLOWED_ORIGINS" >/dev/null

outputs=$(aws cloudformation describe-stacks --stack-name "$STACK" --query 'Stacks[0].Outputs' --output json)
table=$(python3 -c 'import json,sys; print({o["OutputKey"]: o["OutputValue"] for o in json.loads(sys.argv[1])}["TableName"])' "$outputs")
aws dynamodb update-time-to-live --table-name "$table" \
    --time-to-live-specification Enabled=true,AttributeName=TTL >/dev/null
http_api=$(python3 -c 'import json,sys; print({o["OutputKey"]: o["OutputValue"] for o in json.loads(sys.argv[1])}["HttpApiId"])' "$outputs")
aws apigatewayv2 update-api --api-id "$http_api" \
    --cors-configuration "$(python3 -c 'import json,sys; print(json.dumps({"AllowOrigins": sys.argv[1].split(","), "AllowMethods": ["POST"], "AllowHeaders": ["content-type", "authorization"], "MaxAge": 600}))' "$ALLOWED_ORIGINS")" >/dev/null
python3 -c 'import json,sys; print(json.dumps({o["OutputKey"]: o["OutputValue"] for o in json.loads(sys.argv[1])}))' "$outputs"
