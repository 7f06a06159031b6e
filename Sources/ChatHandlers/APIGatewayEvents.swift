import ChatCore

// API Gateway's own event and response shapes, as the Lambda functions receive
// and return them. The local gateway builds exactly these, so the handlers cannot
// tell the two fronts apart.

/// An HTTP API request, payload format 2.0.
public struct HTTPRequestEvent: Codable, Sendable {
    /// `requestContext`: where the request came from and how API Gateway routed it.
    public struct RequestContext: Codable, Sendable {
        /// `requestContext.http`: the request line and the client that sent it.
        public struct HTTP: Codable, Sendable {
            /// `requestContext.http.method`: the HTTP method, e.g. `POST`.
            public var method: String
            /// `requestContext.http.path`: the request's path, without the query.
            public var path: String
            /// `requestContext.http.protocol`: the HTTP version, e.g. `HTTP/1.1`.
            public var `protocol`: String
            /// `requestContext.http.sourceIp`: the client's address; register and login are limited per address.
            public var sourceIp: String
            /// `requestContext.http.userAgent`: the client's `User-Agent` header.
            public var userAgent: String

            /// The request line as a front fills it in; `protocol` defaults to HTTP/1.1.
            public init(method: String, path: String, protocol: String = "HTTP/1.1", sourceIp: String, userAgent: String) {
                self.method = method
                self.path = path
                self.protocol = `protocol`
                self.sourceIp = sourceIp
                self.userAgent = userAgent
            }

            enum CodingKeys: String, CodingKey { case method, path, `protocol`, sourceIp, userAgent }

            // Fronts differ in what they fill in (emulators leave some out); only
            // the method and path are required.
            /// Decodes `requestContext.http` as any front sends it.
            public init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                method = try container.decode(String.self, forKey: .method)
                path = try container.decode(String.self, forKey: .path)
                self.protocol = try container.decodeIfPresent(String.self, forKey: .protocol) ?? "HTTP/1.1"
                sourceIp = try container.decodeIfPresent(String.self, forKey: .sourceIp) ?? ""
                userAgent = try container.decodeIfPresent(String.self, forKey: .userAgent) ?? ""
            }
        }

        /// `requestContext.accountId`: the AWS account that owns the API.
        public var accountId: String
        /// `requestContext.apiId`: the API's identifier.
        public var apiId: String
        /// `requestContext.domainName`: the host the client called (host and port locally).
        public var domainName: String
        /// `requestContext.domainPrefix`: the first label of `domainName`.
        public var domainPrefix: String
        /// `requestContext.http`: method, path and client of the request.
        public var http: HTTP
        /// `requestContext.requestId`: API Gateway's id for this request.
        public var requestId: String
        /// `requestContext.routeKey`: the route that matched, e.g. `POST /auth/v1/login`.
        public var routeKey: String
        /// `requestContext.stage`: the API stage the request came through (`$default` unless named).
        public var stage: String
        /// `requestContext.time`: when the request arrived, as text.
        public var time: String
        /// `requestContext.timeEpoch`: when the request arrived, in milliseconds since 1970.
        public var timeEpoch: Int64

        /// A request context as the local gateway builds it: account, API and domain prefix default to `local`.
        public init(
            accountId: String = "local",
            apiId: String = "local",
            domainName: String,
            domainPrefix: String = "local",
            http: HTTP,
            requestId: String,
            routeKey: String,
            stage: String = "$default",
            time: String,
            timeEpoch: Int64
        ) {
            self.accountId = accountId
            self.apiId = apiId
            self.domainName = domainName
            self.domainPrefix = domainPrefix
            self.http = http
            self.requestId = requestId
            self.routeKey = routeKey
            self.stage = stage
            self.time = time
            self.timeEpoch = timeEpoch
        }

        enum CodingKeys: String, CodingKey {
            case accountId, apiId, domainName, domainPrefix, http, requestId, routeKey, stage, time, timeEpoch
        }

        /// Decodes `requestContext`; only `http` is required, and what a front leaves out is empty.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            http = try container.decode(HTTP.self, forKey: .http)
            accountId = try container.decodeIfPresent(String.self, forKey: .accountId) ?? ""
            apiId = try container.decodeIfPresent(String.self, forKey: .apiId) ?? ""
            domainName = try container.decodeIfPresent(String.self, forKey: .domainName) ?? ""
            domainPrefix = try container.decodeIfPresent(String.self, forKey: .domainPrefix) ?? ""
            requestId = try container.decodeIfPresent(String.self, forKey: .requestId) ?? ""
            routeKey = try container.decodeIfPresent(String.self, forKey: .routeKey) ?? ""
            stage = try container.decodeIfPresent(String.self, forKey: .stage) ?? "$default"
            time = try container.decodeIfPresent(String.self, forKey: .time) ?? ""
            timeEpoch = try container.decodeIfPresent(Int64.self, forKey: .timeEpoch) ?? 0
        }
    }

    /// `version`: the payload format, always `2.0`.
    public var version: String
    /// `routeKey`: the route that matched, e.g. `POST /auth/v1/register`.
    public var routeKey: String
    /// `rawPath`: the request's path as sent.
    public var rawPath: String
    /// `rawQueryString`: the query string without its `?`; empty when there is none.
    public var rawQueryString: String
    /// `headers`: the request's headers, names in lower case, repeated ones joined with commas.
    public var headers: [String: String]?
    /// `queryStringParameters`: the query's parameters; nil when there are none.
    public var queryStringParameters: [String: String]?
    /// `requestContext`: where the request came from and how it was routed.
    public var requestContext: RequestContext
    /// `body`: the request body; base64 when `isBase64Encoded`.
    public var body: String?
    /// `isBase64Encoded`: whether `body` is base64, as for a body that is not UTF-8 text.
    public var isBase64Encoded: Bool

    /// A payload format 2.0 request, as the local gateway builds one.
    public init(
        routeKey: String,
        rawPath: String,
        rawQueryString: String = "",
        headers: [String: String]?,
        queryStringParameters: [String: String]? = nil,
        requestContext: RequestContext,
        body: String?,
        isBase64Encoded: Bool = false
    ) {
        self.version = "2.0"
        self.routeKey = routeKey
        self.rawPath = rawPath
        self.rawQueryString = rawQueryString
        self.headers = headers
        self.queryStringParameters = queryStringParameters
        self.requestContext = requestContext
        self.body = body
        self.isBase64Encoded = isBase64Encoded
    }

    enum CodingKeys: String, CodingKey {
        case version, routeKey, rawPath, rawQueryString, headers, queryStringParameters, requestContext, body, isBase64Encoded
    }

    /// Decodes a request; only `requestContext` is required, and the path and route key default to its own.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        requestContext = try container.decode(RequestContext.self, forKey: .requestContext)
        version = try container.decodeIfPresent(String.self, forKey: .version) ?? "2.0"
        routeKey = try container.decodeIfPresent(String.self, forKey: .routeKey) ?? requestContext.routeKey
        rawPath = try container.decodeIfPresent(String.self, forKey: .rawPath) ?? requestContext.http.path
        rawQueryString = try container.decodeIfPresent(String.self, forKey: .rawQueryString) ?? ""
        headers = try container.decodeIfPresent([String: String].self, forKey: .headers)
        queryStringParameters = try container.decodeIfPresent([String: String].self, forKey: .queryStringParameters)
        body = try container.decodeIfPresent(String.self, forKey: .body)
        isBase64Encoded = try container.decodeIfPresent(Bool.self, forKey: .isBase64Encoded) ?? false
    }
}

/// An HTTP API response (payload format 2.0).
public struct HTTPAPIResponse: Codable, Sendable, Hashable {
    /// `statusCode`: the HTTP status to answer with.
    public var statusCode: Int
    /// `headers`: the response's headers.
    public var headers: [String: String]?
    /// `body`: the response body, JSON on the chat's routes.
    public var body: String?
    /// `isBase64Encoded`: whether `body` is base64; the handlers always answer text.
    public var isBase64Encoded: Bool?

    /// A response; JSON (`content-type: application/json`) unless `headers` says otherwise.
    public init(statusCode: Int, headers: [String: String]? = ["content-type": "application/json"], body: String?) {
        self.statusCode = statusCode
        self.headers = headers
        self.body = body
        self.isBase64Encoded = false
    }
}

/// What a WebSocket route's Lambda function receives (`$connect`, `$disconnect`,
/// custom routes, `$default`).
public struct WebSocketEvent: Codable, Sendable {
    /// `requestContext`: the connection, the route, and what the `$connect` authorizer vouched for.
    public struct RequestContext: Codable, Sendable {
        /// `requestContext.routeKey`: the route that matched: `$connect`, `sendMessage`, `$default`, ….
        public var routeKey: String
        /// CONNECT, DISCONNECT or MESSAGE.
        public var eventType: String
        /// `requestContext.connectionId`: the connection API Gateway assigned.
        public var connectionId: String
        /// `requestContext.requestId`: API Gateway's id for this event.
        public var requestId: String
        /// `requestContext.messageId`: the incoming frame's id; only on MESSAGE events.
        public var messageId: String?
        /// `requestContext.domainName`: the API's host; with `stage` it addresses the `@connections` endpoint.
        public var domainName: String
        /// `requestContext.stage`: the API stage the connection came through.
        public var stage: String
        /// `requestContext.apiId`: the API's identifier.
        public var apiId: String
        /// `requestContext.connectedAt`: when the connection opened, in milliseconds since 1970.
        public var connectedAt: Int64
        /// `requestContext.requestTimeEpoch`: when this event arrived, in milliseconds since 1970.
        public var requestTimeEpoch: Int64
        /// `requestContext.messageDirection`: `IN` for what the client sent.
        public var messageDirection: String?
        /// `requestContext.disconnectStatusCode`: the WebSocket close code; only on `$disconnect`.
        public var disconnectStatusCode: Int?
        /// `requestContext.disconnectReason`: why the connection closed, in API Gateway's words; only on `$disconnect`.
        public var disconnectReason: String?
        /// The `$connect` authorizer's context. On AWS its values arrive as strings.
        public var authorizer: [String: String]?

        /// An event's context as the local gateway builds it.
        public init(
            routeKey: String,
            eventType: String,
            connectionId: String,
            requestId: String,
            messageId: String? = nil,
            domainName: String,
            stage: String,
            apiId: String = "local",
            connectedAt: Int64,
            requestTimeEpoch: Int64,
            messageDirection: String? = "IN",
            disconnectStatusCode: Int? = nil,
            disconnectReason: String? = nil,
            authorizer: [String: String]?
        ) {
            self.routeKey = routeKey
            self.eventType = eventType
            self.connectionId = connectionId
            self.requestId = requestId
            self.messageId = messageId
            self.domainName = domainName
            self.stage = stage
            self.apiId = apiId
            self.connectedAt = connectedAt
            self.requestTimeEpoch = requestTimeEpoch
            self.messageDirection = messageDirection
            self.disconnectStatusCode = disconnectStatusCode
            self.disconnectReason = disconnectReason
            self.authorizer = authorizer
        }

        enum CodingKeys: String, CodingKey {
            case routeKey, eventType, connectionId, requestId, messageId, domainName, stage, apiId, connectedAt
            case requestTimeEpoch, messageDirection, disconnectStatusCode, disconnectReason, authorizer
        }

        /// Decodes `requestContext`; only `routeKey` and `connectionId` are required.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            routeKey = try container.decode(String.self, forKey: .routeKey)
            eventType = try container.decodeIfPresent(String.self, forKey: .eventType) ?? ""
            connectionId = try container.decode(String.self, forKey: .connectionId)
            requestId = try container.decodeIfPresent(String.self, forKey: .requestId) ?? ""
            messageId = try container.decodeIfPresent(String.self, forKey: .messageId)
            domainName = try container.decodeIfPresent(String.self, forKey: .domainName) ?? ""
            stage = try container.decodeIfPresent(String.self, forKey: .stage) ?? ""
            apiId = try container.decodeIfPresent(String.self, forKey: .apiId) ?? ""
            connectedAt = try container.decodeIfPresent(Int64.self, forKey: .connectedAt) ?? 0
            requestTimeEpoch = try container.decodeIfPresent(Int64.self, forKey: .requestTimeEpoch) ?? 0
            messageDirection = try container.decodeIfPresent(String.self, forKey: .messageDirection)
            disconnectStatusCode = try container.decodeIfPresent(Int.self, forKey: .disconnectStatusCode)
            disconnectReason = try container.decodeIfPresent(String.self, forKey: .disconnectReason)
            // API Gateway adds keys of its own here (`integrationLatency` is a
            // number); only the string values are the authorizer's context.
            authorizer = try container.decodeIfPresent([String: JSONValue].self, forKey: .authorizer)?
                .compactMapValues { if case .string(let text) = $0 { text } else { nil } }
        }
    }

    /// `requestContext`: which connection and route this event is for.
    public var requestContext: RequestContext
    /// `headers`: the upgrade request's headers; only on `$connect`.
    public var headers: [String: String]?
    /// `queryStringParameters`: the upgrade request's query (`?token=`); only on `$connect`.
    public var queryStringParameters: [String: String]?
    /// `body`: the frame's payload; only on MESSAGE events.
    public var body: String?
    /// `isBase64Encoded`: whether `body` is base64, as for a binary frame.
    public var isBase64Encoded: Bool

    /// An event as the local gateway builds it.
    public init(
        requestContext: RequestContext,
        headers: [String: String]? = nil,
        queryStringParameters: [String: String]? = nil,
        body: String? = nil,
        isBase64Encoded: Bool = false
    ) {
        self.requestContext = requestContext
        self.headers = headers
        self.queryStringParameters = queryStringParameters
        self.body = body
        self.isBase64Encoded = isBase64Encoded
    }

    enum CodingKeys: String, CodingKey {
        case requestContext, headers, queryStringParameters, body, isBase64Encoded
    }

    /// Decodes an event; only `requestContext` is required.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        requestContext = try container.decode(RequestContext.self, forKey: .requestContext)
        headers = try container.decodeIfPresent([String: String].self, forKey: .headers)
        queryStringParameters = try container.decodeIfPresent([String: String].self, forKey: .queryStringParameters)
        body = try container.decodeIfPresent(String.self, forKey: .body)
        isBase64Encoded = try container.decodeIfPresent(Bool.self, forKey: .isBase64Encoded) ?? false
    }
}

/// A WebSocket route's response. API Gateway only needs the status; replies to
/// the client go through `@connections`, like every other frame.
public struct WebSocketResponse: Codable, Sendable, Hashable {
    /// `statusCode`: 200 when handled; on `$connect` anything else refuses the connection.
    public var statusCode: Int
    /// `body`: the route response's body; the handlers leave it empty.
    public var body: String?

    /// A route's answer to API Gateway.
    public init(statusCode: Int, body: String? = nil) {
        self.statusCode = statusCode
        self.body = body
    }

    /// 200, no body: the event was handled (a refused frame included; its error frame went to the client).
    public static let ok = WebSocketResponse(statusCode: 200)
}

/// A REQUEST authorizer's event for a WebSocket `$connect`.
public struct AuthorizerEvent: Codable, Sendable {
    /// `type`: the authorizer's type, always `REQUEST`.
    public var type: String
    /// `methodArn`: the ARN of the `$connect` route being invoked; the Allow policy names it.
    public var methodArn: String
    /// `headers`: the upgrade request's headers (`Authorization: Bearer` is read from here).
    public var headers: [String: String]?
    /// `queryStringParameters`: the upgrade request's query (`?token=` is read from here).
    public var queryStringParameters: [String: String]?
    /// `requestContext`: the connection being opened, as its `$connect` route will see it.
    public var requestContext: WebSocketEvent.RequestContext?

    /// A REQUEST authorizer's event, as the local gateway builds one.
    public init(
        methodArn: String,
        headers: [String: String]?,
        queryStringParameters: [String: String]?,
        requestContext: WebSocketEvent.RequestContext?
    ) {
        self.type = "REQUEST"
        self.methodArn = methodArn
        self.headers = headers
        self.queryStringParameters = queryStringParameters
        self.requestContext = requestContext
    }
}

/// An authorizer's Allow answer: the principal, an IAM policy, and the context
/// API Gateway hands to every later route of the connection.
public struct AuthorizerResponse: Codable, Sendable, Hashable {
    /// `policyDocument`: the IAM policy that lets the connection invoke the API.
    public struct PolicyDocument: Codable, Sendable, Hashable {
        /// One statement of the policy: an effect on an action for a resource.
        public struct Statement: Codable, Sendable, Hashable {
            /// `Action`: what is allowed, here `execute-api:Invoke`.
            public var Action: String
            /// `Effect`: always `Allow`; a refusal is thrown, not answered.
            public var Effect: String
            /// `Resource`: the route ARN the statement covers (the event's `methodArn`).
            public var Resource: String
        }

        /// `Version`: the IAM policy language's version, `2012-10-17`.
        public var Version: String
        /// `Statement`: the policy's statements; here a single Allow.
        public var Statement: [Statement]
    }

    /// `principalId`: who connects: the member's email.
    public var principalId: String
    /// `policyDocument`: the policy allowing the `$connect`.
    public var policyDocument: PolicyDocument
    /// `context`: the member and room (`email`, `username`, `room_id`) API Gateway hands to every later route.
    public var context: [String: String]

    /// An Allow for `resource`, carrying `context` to the connection's later routes.
    public init(principalId: String, resource: String, context: [String: String]) {
        self.principalId = principalId
        self.policyDocument = PolicyDocument(
            Version: "2012-10-17",
            Statement: [.init(Action: "execute-api:Invoke", Effect: "Allow", Resource: resource)]
        )
        self.context = context
    }
}
