import ChatCore

// API Gateway's own event and response shapes, as the Lambda functions receive
// and return them. The local gateway builds exactly these, so the handlers cannot
// tell the two fronts apart.

/// An HTTP API request, payload format 2.0.
public struct HTTPRequestEvent: Codable, Sendable {
    public struct RequestContext: Codable, Sendable {
        public struct HTTP: Codable, Sendable {
            public var method: String
            public var path: String
            public var `protocol`: String
            public var sourceIp: String
            public var userAgent: String

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
            public init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                method = try container.decode(String.self, forKey: .method)
                path = try container.decode(String.self, forKey: .path)
                self.protocol = try container.decodeIfPresent(String.self, forKey: .protocol) ?? "HTTP/1.1"
                sourceIp = try container.decodeIfPresent(String.self, forKey: .sourceIp) ?? ""
                userAgent = try container.decodeIfPresent(String.self, forKey: .userAgent) ?? ""
            }
        }

        public var accountId: String
        public var apiId: String
        public var domainName: String
        public var domainPrefix: String
        public var http: HTTP
        public var requestId: String
        public var routeKey: String
        public var stage: String
        public var time: String
        public var timeEpoch: Int64

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

    public var version: String
    public var routeKey: String
    public var rawPath: String
    public var rawQueryString: String
    public var headers: [String: String]?
    public var queryStringParameters: [String: String]?
    public var requestContext: RequestContext
    public var body: String?
    public var isBase64Encoded: Bool

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
    public var statusCode: Int
    public var headers: [String: String]?
    public var body: String?
    public var isBase64Encoded: Bool?

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
    public struct RequestContext: Codable, Sendable {
        public var routeKey: String
        /// CONNECT, DISCONNECT or MESSAGE.
        public var eventType: String
        public var connectionId: String
        public var requestId: String
        public var messageId: String?
        public var domainName: String
        public var stage: String
        public var apiId: String
        public var connectedAt: Int64
        public var requestTimeEpoch: Int64
        public var messageDirection: String?
        public var disconnectStatusCode: Int?
        public var disconnectReason: String?
        /// The `$connect` authorizer's context. On AWS its values arrive as strings.
        public var authorizer: [String: String]?

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

    public var requestContext: RequestContext
    public var headers: [String: String]?
    public var queryStringParameters: [String: String]?
    public var body: String?
    public var isBase64Encoded: Bool

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
    public var statusCode: Int
    public var body: String?

    public init(statusCode: Int, body: String? = nil) {
        self.statusCode = statusCode
        self.body = body
    }

    public static let ok = WebSocketResponse(statusCode: 200)
}

/// A REQUEST authorizer's event for a WebSocket `$connect`.
public struct AuthorizerEvent: Codable, Sendable {
    public var type: String
    public var methodArn: String
    public var headers: [String: String]?
    public var queryStringParameters: [String: String]?
    public var requestContext: WebSocketEvent.RequestContext?

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
    public struct PolicyDocument: Codable, Sendable, Hashable {
        public struct Statement: Codable, Sendable, Hashable {
            public var Action: String
            public var Effect: String
            public var Resource: String
        }

        public var Version: String
        public var Statement: [Statement]
    }

    public var principalId: String
    public var policyDocument: PolicyDocument
    public var context: [String: String]

    public init(principalId: String, resource: String, context: [String: String]) {
        self.principalId = principalId
        self.policyDocument = PolicyDocument(
            Version: "2012-10-17",
            Statement: [.init(Action: "execute-api:Invoke", Effect: "Allow", Resource: resource)]
        )
        self.context = context
    }
}
