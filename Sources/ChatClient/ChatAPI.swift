import AsyncHTTPClient
import ChatCore
import Foundation
import NIOCore
import NIOHTTP1

/// The chat's HTTP API from a client's side: register and log in.
public struct ChatAPI: Sendable {
    /// What the server answered: status and the body's JSON object (empty when none).
    public struct Answer: Sendable {
        /// The HTTP status code.
        public var status: Int
        /// The body as text.
        public var body: String
        /// `Retry-After`, in seconds, when the server sent one.
        public var retryAfterSeconds: Int? = nil
        /// The body as a JSON object; empty when it is not one.
        public var json: [String: JSONValue] { JSONValue.object(body) }
    }

    /// The server's URL without a trailing slash; request paths are appended to it.
    public let baseURL: String
    /// How long one request may take; nil waits as long as the server does.
    public let timeout: Duration?
    /// How often a busy answer (429, 503 with `Retry-After`) is tried again.
    public var busyRetries = 3
    let http: HTTPClient

    /// - Parameters:
    ///   - baseURL: e.g. `http://127.0.0.1:8080` (no trailing slash).
    ///   - timeout: the deadline of each request; nil for none (test suites, whose
    ///     own time limit catches a hang, so a slow machine is not a failure).
    public init(baseURL: String, timeout: Duration? = .seconds(30), http: HTTPClient = .shared) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.timeout = timeout
        self.http = http
    }

    /// `POST /auth/v1/register`; the answer is returned whatever its status.
    public func register(email: String, username: String, password: String) async throws -> Answer {
        try await post("/auth/v1/register", json: ["email": email, "username": username, "password": password])
    }

    /// `POST /auth/v1/login`, for one room (`room_id`) if given; the answer is returned whatever its status.
    public func login(email: String, password: String, roomID: String? = nil) async throws -> Answer {
        var body = ["email": email, "password": password]
        body["room_id"] = roomID
        return try await post("/auth/v1/login", json: body)
    }

    /// A token for the room, or an error naming what the server said.
    public func token(email: String, password: String, roomID: String? = nil) async throws -> String {
        let answer = try await login(email: email, password: password, roomID: roomID)
        guard answer.status == 200, case .string(let token)? = answer.json["token"] else {
            throw ChatClientError.refused(status: answer.status, body: answer.body)
        }
        return token
    }

    /// POSTs a JSON object of strings to `path`, retried when busy as `send` does.
    public func post(_ path: String, json: [String: String]) async throws -> Answer {
        try await send(path, method: .POST, body: String(decoding: try JSONEncoder().encode(json), as: UTF8.self))
    }

    /// Any request, with a raw body. A 429 or 503 that says when to try again
    /// (`Retry-After`, up to a minute) is tried again after that long, at most
    /// `busyRetries` times; the last answer is returned as it is.
    public func send(_ path: String, method: HTTPMethod, body: String? = nil, headers: [(String, String)] = []) async throws -> Answer {
        var answer = try await sendOnce(path, method: method, body: body, headers: headers)
        var retries = 0
        while retries < busyRetries, answer.status == 429 || answer.status == 503,
            let wait = answer.retryAfterSeconds, (1...60).contains(wait)
        {
            try await Task.sleep(for: .seconds(wait))
            answer = try await sendOnce(path, method: method, body: body, headers: headers)
            retries += 1
        }
        return answer
    }

    private func sendOnce(_ path: String, method: HTTPMethod, body: String?, headers: [(String, String)]) async throws -> Answer {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let deadline = timeout.map { NIODeadline.now() + TimeAmount($0) } ?? .distantFuture
        let response = try await http.execute(request, deadline: deadline)
        let bytes = try await response.body.collect(upTo: 16 * 1024 * 1024)
        return Answer(
            status: Int(response.status.code),
            body: String(buffer: bytes),
            retryAfterSeconds: response.headers.first(name: "retry-after").flatMap { Int($0) }
        )
    }
}

/// Why a client did not get what it needed from the server.
public enum ChatClientError: Error, CustomStringConvertible {
    /// The server said no: its status and body (status 0 for a WebSocket upgrade that failed, with the reason).
    case refused(status: Int, body: String)
    /// There is no connection to the server to use.
    case notConnected
    /// Nothing came in time; names what was awaited, e.g. "a frame".
    case timedOut(String)

    /// One line for the terminal or a test failure.
    public var description: String {
        switch self {
        case .refused(let status, let body): "the server refused (\(status)): \(body)"
        case .notConnected: "the WebSocket is not connected"
        case .timedOut(let what): "timed out waiting for \(what)"
        }
    }
}
