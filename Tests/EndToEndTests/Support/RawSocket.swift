import Dispatch
import Foundation
import Synchronization
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A bare TCP socket to 127.0.0.1 speaking HTTP and WebSocket by hand: for what a
/// well-behaved client library will not do (vanish without a close frame, send an
/// oversized frame) and for reading a refused upgrade's status and body.
/// Blocking calls run on threads of their own (`onOwnThread`).
final class RawSocket: @unchecked Sendable {
    private let fd: Int32
    private var received: [UInt8] = []
    private let cancelled = Mutex(false)

    /// - Parameter source: the local address to connect from (any of 127.0.0.0/8),
    ///   to play a client at another address.
    init(port: Int, from source: String? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawSocketError.system("socket") }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                Glibc.close(fd)
                throw RawSocketError.system("bind \(source)")
            }
        }
        // Not a deadline: a read wakes up this often only to see whether the test
        // was cancelled (by its time limit); otherwise it waits on.
        var wakeUp = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wakeUp, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            Glibc.close(fd)
            throw RawSocketError.system("connect")
        }
    }

    deinit { Glibc.close(fd) }

    /// Closes the socket at once: no close frame, no goodbye.
    func vanish() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Sends a raw HTTP request and returns the response.
    func request(_ text: String) async throws -> RawResponse {
        try await request(bytes: Array(text.utf8))
    }

    /// Sends raw request bytes (which need not be UTF-8) and returns the response.
    func request(bytes: [UInt8]) async throws -> RawResponse {
        try await write(bytes)
        return try await readResponse()
    }

    /// Sends bytes and nothing else: for a request head that never completes.
    func send(raw bytes: [UInt8]) async throws { try await write(bytes) }

    /// Sends a WebSocket upgrade request and returns the response's status and body.
    func upgrade(path: String, headers: [String] = []) async throws -> RawResponse {
        try await write(Self.upgradeRequest(path: path, headers: headers))
        return try await readResponse()
    }

    /// A WebSocket upgrade request's bytes, for sending without waiting for the answer.
    static func upgradeRequest(path: String, headers: [String] = []) -> [UInt8] {
        let request =
            ([
                "GET \(path) HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
            ] + headers + ["", ""])
            .joined(separator: "\r\n")
        return Array(request.utf8)
    }

    /// Reads an HTTP response: for an upgrade request sent with `send(raw:)`.
    func readResponse() async throws -> RawResponse {
        let head = try await readUntil(Array("\r\n\r\n".utf8))
        let headText = String(decoding: head, as: UTF8.self)
        let status = Int(headText.split(separator: " ").dropFirst().first ?? "") ?? 0
        var body = ""
        if let lengthLine = headText.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("content-length:") }),
            let length = Int(lengthLine.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)), length > 0
        {
            body = String(decoding: try await read(count: length), as: UTF8.self)
        }
        return RawResponse(status: status, body: body, head: headText)
    }

    /// Ends the sending side only (a TCP FIN), with no close frame.
    func shutdownWrite() {
        shutdown(fd, Int32(SHUT_WR))
    }

    /// Sends one client frame (masked, as clients must).
    func sendFrame(opcode: UInt8, payload: [UInt8], fin: Bool = true) async throws {
        try await write(Self.frame(opcode: opcode, payload: payload, fin: fin))
    }

    /// `sendFrame`, blocking the calling thread: for a thread of the test's own
    /// that must keep a steady pace whatever Swift's task pool is busy with.
    func sendFrameNow(opcode: UInt8, payload: [UInt8], fin: Bool = true) throws {
        try writeNow(Self.frame(opcode: opcode, payload: payload, fin: fin))
    }

    /// One client frame's bytes (masked), to send several in one write with
    /// `send(raw:)`; `reserved` sets the RSV1-3 bits (0 to 7).
    static func frame(opcode: UInt8, payload: [UInt8], fin: Bool = true, reserved: UInt8 = 0) -> [UInt8] {
        var frame: [UInt8] = [(fin ? 0x80 : 0) | (reserved & 0x7) << 4 | opcode]
        let length = payload.count
        if length < 126 {
            frame.append(0x80 | UInt8(length))
        } else if length < 65536 {
            frame.append(0x80 | 126)
            frame += [UInt8(length >> 8), UInt8(length & 0xFF)]
        } else {
            frame.append(0x80 | 127)
            frame += (0..<8).reversed().map { UInt8((length >> ($0 * 8)) & 0xFF) }
        }
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return frame
    }

    /// Reads one server frame: its opcode and payload.
    func readFrame() async throws -> (opcode: UInt8, payload: [UInt8]) {
        let header = try await read(count: 2)
        var length = Int(header[1] & 0x7F)
        if length == 126 {
            let extended = try await read(count: 2)
            length = Int(extended[0]) << 8 | Int(extended[1])
        } else if length == 127 {
            length = try await read(count: 8).reduce(0) { $0 << 8 | Int($1) }
        }
        return (header[0] & 0x0F, try await read(count: length))
    }

    /// Reads frames until a close frame; returns its status code (nil when the
    /// socket ended without one).
    func readCloseCode() async throws -> Int? {
        while true {
            guard let frame = try? await readFrame() else { return nil }
            if frame.opcode == 0x8 {
                return frame.payload.count >= 2 ? Int(frame.payload[0]) << 8 | Int(frame.payload[1]) : 1005
            }
        }
    }

    private func write(_ bytes: [UInt8]) async throws {
        try await blocking { try self.writeNow(bytes) }
    }

    private func writeNow(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw RawSocketError.system("send") }
            offset += sent
        }
    }

    private func read(count: Int) async throws -> [UInt8] {
        try await blocking {
            while self.received.count < count { try self.fill() }
            defer { self.received.removeFirst(count) }
            return Array(self.received.prefix(count))
        }
    }

    private func readUntil(_ marker: [UInt8]) async throws -> [UInt8] {
        try await blocking {
            while true {
                if let range = self.received.firstRange(of: marker) {
                    defer { self.received.removeFirst(range.upperBound) }
                    return Array(self.received[..<range.upperBound])
                }
                try self.fill()
            }
        }
    }

    private func fill() throws {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received += buffer[..<count]
                return
            }
            guard count < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else { throw RawSocketError.closed }
            if cancelled.withLock({ $0 }) { throw CancellationError() }
        }
    }

    private func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        cancelled.withLock { $0 = false }
        return try await withTaskCancellationHandler {
            try await onOwnThread(work)
        } onCancel: {
            cancelled.withLock { $0 = true }
        }
    }
}

/// An HTTP response as it came: status, body, and the head with its headers.
struct RawResponse: Sendable {
    var status: Int
    var body: String
    var head: String

    /// A header's value, by case-insensitive name.
    func header(_ name: String) -> String? {
        for line in head.split(separator: "\r\n").dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == name.lowercased() { return parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }
}

enum RawSocketError: Error {
    case system(String)
    case closed
}
