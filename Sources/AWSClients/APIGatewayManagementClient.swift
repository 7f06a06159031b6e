import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// The API Gateway management API of one WebSocket stage: post to a connection,
/// or close it (`/{stage}/@connections/{id}`, service `execute-api`).
public struct APIGatewayManagementClient: Sendable {
    /// What a post did.
    public enum Outcome: Sendable, Hashable {
        case delivered
        /// 410: the connection no longer exists.
        case gone
        case failed(status: Int, message: String)
    }

    /// The stage's base URL, e.g. `https://abc123.execute-api.eu-west-1.amazonaws.com/prod`.
    public let endpoint: AWSEndpoint
    public let signer: SigV4Signer
    let http: HTTPClient

    public init(endpoint: AWSEndpoint, credentials: AWSCredentials, region: String, http: HTTPClient = .shared) {
        self.endpoint = endpoint
        self.signer = SigV4Signer(credentials: credentials, region: region, service: "execute-api")
        self.http = http
    }

    public func post(_ data: [UInt8], to connectionID: String) async -> Outcome {
        await send(.POST, connectionID: connectionID, body: data)
    }

    public func delete(_ connectionID: String) async -> Outcome {
        await send(.DELETE, connectionID: connectionID, body: [])
    }

    /// The path of a connection, its id percent-encoded (ids end in `=`).
    public func path(of connectionID: String) -> String {
        "\(endpoint.basePath)/@connections/\(SigV4Signer.uriEncode(connectionID, keepSlash: false))"
    }

    private func send(_ method: HTTPMethod, connectionID: String, body: [UInt8]) async -> Outcome {
        let path = path(of: connectionID)
        var headers: [(name: String, value: String)] = [("Host", endpoint.hostHeader)]
        if method == .POST { headers.append(("Content-Type", "application/json")) }
        let signature = signer.sign(.init(method: method.rawValue, path: path, headers: headers, body: body), at: Date())
        var request = HTTPClientRequest(url: "\(endpoint.scheme)://\(endpoint.hostHeader)\(path)")
        request.method = method
        for (name, value) in headers + signature.headersToAdd { request.headers.add(name: name, value: value) }
        if !body.isEmpty { request.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let response = try await http.execute(request, timeout: .seconds(10))
            let answer = try await response.body.collect(upTo: 64 * 1024)
            switch response.status.code {
            case 200..<300: return .delivered
            case 410: return .gone
            default: return .failed(status: Int(response.status.code), message: String(buffer: answer))
            }
        } catch {
            return .failed(status: 0, message: "\(error)")
        }
    }
}
