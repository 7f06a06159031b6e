import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// The API Gateway management API of one WebSocket stage: post to a connection,
/// or close it (`/{stage}/@connections/{id}`, service `execute-api`).
///
/// `@connections` shares the account's API rate with every other call in the
/// Region, so 429s are an everyday answer under load: they, 5xx and lost answers
/// are retried with `retry`'s jittered backoff, never past the task's `CallDeadline`.
public struct APIGatewayManagementClient: Sendable {
    /// What a post did, after any retries.
    public enum Outcome: Sendable, Hashable {
        /// 2xx: API Gateway took the frame for the connection.
        case delivered
        /// 410: the connection no longer exists.
        case gone
        /// 413: the payload is over API Gateway's 128 KB frame limit.
        case tooLarge
        /// Anything else: the last attempt's status (0 when no answer came) and its body or error.
        case failed(status: Int, message: String)
    }

    /// The stage's base URL, e.g. `https://abc123.execute-api.eu-west-1.amazonaws.com/prod`.
    public let endpoint: AWSEndpoint
    /// Signs for `execute-api` in the stage's Region.
    public let signer: SigV4Signer
    /// The backoff for 429s, 5xx and lost answers.
    public let retry: RetryPolicy
    let http: HTTPClient

    /// A client for one stage's `@connections`; `http` should allow as many connections per host as posts run at once
    /// (see `HTTPClient.forAWS(connectionsPerHost:)`).
    public init(
        endpoint: AWSEndpoint,
        credentials: AWSCredentials,
        region: String,
        retry: RetryPolicy = RetryPolicy(),
        http: HTTPClient = .shared
    ) {
        self.endpoint = endpoint
        self.signer = SigV4Signer(credentials: credentials, region: region, service: "execute-api")
        self.retry = retry
        self.http = http
    }

    /// Posts one frame, retrying throttling, 5xx and lost answers.
    public func post(_ data: [UInt8], to connectionID: String) async -> Outcome {
        await sendRetrying(.POST, connectionID: connectionID, body: data)
    }

    /// Closes a connection.
    public func delete(_ connectionID: String) async -> Outcome {
        await sendRetrying(.DELETE, connectionID: connectionID, body: [])
    }

    /// The path of a connection, its id percent-encoded (ids end in `=`).
    public func path(of connectionID: String) -> String {
        "\(endpoint.basePath)/@connections/\(SigV4Signer.uriEncode(connectionID, keepSlash: false))"
    }

    private func sendRetrying(_ method: HTTPMethod, connectionID: String, body: [UInt8]) async -> Outcome {
        var attempt = 0
        while true {
            let outcome = await send(method, connectionID: connectionID, body: body)
            guard case .failed(let status, _) = outcome, status == 0 || status == 429 || status >= 500 else { return outcome }
            guard (try? await retry.pause(afterAttempt: attempt)) == true else { return outcome }
            attempt += 1
        }
    }

    private func send(_ method: HTTPMethod, connectionID: String, body: [UInt8]) async -> Outcome {
        guard let timeout = CallDeadline.timeout(preferring: .seconds(10)) else {
            return .failed(status: 0, message: "no time left before the invocation's deadline")
        }
        let path = path(of: connectionID)
        var headers: [(name: String, value: String)] = [("Host", endpoint.hostHeader)]
        if method == .POST { headers.append(("Content-Type", "application/json")) }
        let signature = signer.sign(.init(method: method.rawValue, path: path, headers: headers, body: body), at: Date())
        var request = HTTPClientRequest(url: "\(endpoint.scheme)://\(endpoint.hostHeader)\(path)")
        request.method = method
        for (name, value) in headers + signature.headersToAdd { request.headers.add(name: name, value: value) }
        if !body.isEmpty { request.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let response = try await http.execute(request, timeout: timeout)
            let answer = try await response.body.collect(upTo: 64 * 1024)
            switch response.status.code {
            case 200..<300: return .delivered
            case 410: return .gone
            case 413: return .tooLarge
            default: return .failed(status: Int(response.status.code), message: String(buffer: answer))
            }
        } catch {
            return .failed(status: 0, message: "\(error)")
        }
    }
}

extension HTTPClient {
    /// A client for AWS's APIs: enough connections per host that a room's
    /// broadcast to `@connections` runs in parallel rather than in rounds of the
    /// default 8, and a connect timeout short enough that an endpoint that does not
    /// answer fails the attempt (and the caller's retry policy takes over) instead
    /// of holding it for the whole request timeout. Shut it down when done.
    public static func forAWS(connectionsPerHost: Int = 64) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: connectionsPerHost)
        configuration.timeout.connect = .seconds(2)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }
}
