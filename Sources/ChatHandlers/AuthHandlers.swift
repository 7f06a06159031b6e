import ChatCore
import CoreMetrics
import Foundation
import Logging

extension Handlers {
    /// `POST /auth/v1/register` (and its alias `/auth/v1/reister`).
    public func register(_ event: HTTPRequestEvent) async -> HTTPAPIResponse {
        await respond(kind: "register") {
            try environment.auth.admit(address: event.requestContext.http.sourceIp)
            let fields = try event.jsonFields()
            let email = try Validation.email(try fields.requiredString("email"))
            let username = try Validation.username(try fields.requiredString("username"))
            let password = try Validation.password(try fields.requiredString("password"))
            let member = Member(email: email, username: username)
            let record = try await hashing { try await environment.passwords.hash(password) }
            try await repository.createMember(member, password: record)
            var json = JSONWriter()
            json.object {
                $0.field("email", email)
                $0.field("username", username)
            }
            return HTTPAPIResponse(statusCode: 201, body: json.text)
        }
    }

    /// `POST /auth/v1/login`: a token for one room. Every failure that is not a
    /// malformed request is the same 401, so nobody learns whether an email exists.
    public func login(_ event: HTTPRequestEvent) async -> HTTPAPIResponse {
        await respond(kind: "login") {
            let address = event.requestContext.http.sourceIp
            try environment.auth.admit(address: address)
            let fields = try event.jsonFields()
            let rawEmail = try fields.requiredString("email")
            let password = try fields.requiredString("password")
            let roomID = try Validation.roomID(try fields.string("room_id"))
            // Failures count per account as typed and address, known account or not.
            let account = rawEmail.trimmingSpaces.lowercased()
            try environment.auth.checkFailures(email: account, address: address)
            let refused = ChatError(.invalidCredentials, "email or password is wrong")
            guard let email = try? Validation.email(rawEmail),
                let (member, record) = try await repository.member(email: email)
            else {
                try await hashing { await environment.passwords.burnVerification(password) }
                environment.auth.recordFailure(email: account, address: address)
                throw refused
            }
            guard try await hashing({ try await environment.passwords.verify(password, against: record) }) else {
                environment.auth.recordFailure(email: account, address: address)
                throw refused
            }
            if environment.passwords.needsUpgrade(record) {
                try await repository.updatePassword(of: member, to: try await hashing { try await environment.passwords.hash(password) })
            }
            let (token, claims) = try await environment.tokens.issue(for: member, roomID: roomID)
            var json = JSONWriter()
            json.object {
                $0.field("token", token)
                $0.field("token_type", "Bearer")
                $0.field("expires_at", claims.expiresAt)
                $0.field("email", member.email)
                $0.field("username", member.username)
                $0.field("room_id", roomID)
            }
            return HTTPAPIResponse(statusCode: 200, body: json.text)
        }
    }

    /// Turns a thrown `ChatError` into the contract's error body, and anything
    /// else into a 500 that says nothing about the inside; counts the outcome.
    private func respond(kind: String, _ body: () async throws -> HTTPAPIResponse) async -> HTTPAPIResponse {
        do {
            let response = try await body()
            metrics.authAttempt(kind: kind, outcome: "ok")
            return response
        } catch let error as ChatError {
            metrics.authAttempt(kind: kind, outcome: error.code.rawValue)
            if error.code == .rateLimited || error.code == .unavailable {
                metrics.throttle(kind: error.code == .rateLimited ? kind : "hashing_busy")
            }
            var headers = ["content-type": "application/json"]
            headers["retry-after"] = error.retryAfterSeconds.map(String.init)
            return HTTPAPIResponse(statusCode: error.code.httpStatus, headers: headers, body: error.httpBody)
        } catch is CancellationError {
            // The client went away before its password was hashed: nobody hears this.
            metrics.authAttempt(kind: kind, outcome: "abandoned")
            return HTTPAPIResponse(statusCode: 499, body: nil)
        } catch {
            metrics.authAttempt(kind: kind, outcome: ErrorCode.internalError.rawValue)
            logger.error("request failed", metadata: ["route": "\(kind)", "error": "\(error)"])
            let failure = ChatError(.internalError, "the server could not complete the request")
            return HTTPAPIResponse(statusCode: 500, body: failure.httpBody)
        }
    }

    /// Password work in a hashing slot (or 503 at once when all are taken and the
    /// queue is full), timed from the request's side: the wait is part of it.
    private func hashing<T>(_ work: () async throws -> T) async throws -> T {
        let start = ContinuousClock.now
        defer { metrics.passwordHash.recordSince(start) }
        return try await environment.auth.hashing.run(work)
    }
}

extension HTTPRequestEvent {
    /// The request's JSON object, after the checks of PROTOCOL.md §2b: sent as
    /// `application/json` (415 otherwise), valid UTF-8 (400 otherwise).
    func jsonFields() throws(ChatError) -> JSONFields {
        let contentType = headers?.first { $0.key.lowercased() == "content-type" }?.value
        guard let contentType, Self.isJSON(contentType) else {
            throw ChatError(.unsupportedMediaType, "content-type: send the body as application/json")
        }
        return try JSONFields(body: try decodedBody())
    }

    /// `application/json`, in any case, with or without parameters (`; charset=utf-8`).
    static func isJSON(_ contentType: String) -> Bool {
        let mediaType = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return mediaType.trimmingCharacters(in: .whitespaces).lowercased() == "application/json"
    }

    /// The body as text, undoing API Gateway's base64 for binary bodies; bytes that
    /// are not UTF-8 are refused rather than replaced.
    func decodedBody() throws(ChatError) -> String? {
        guard let body else { return nil }
        guard isBase64Encoded else { return body }
        guard let bytes = Data(base64Encoded: body), let text = String(validating: bytes, as: UTF8.self) else {
            throw ChatError(.invalidRequest, "body: not valid UTF-8")
        }
        return text
    }
}
