import ChatClient
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// CPU time and resident memory of a process, from /proc.
struct ProcessSample {
    /// User-space CPU, in microseconds (`/proc/PID/stat` field 14).
    var userMicroseconds: Double
    /// Kernel CPU on the process's behalf, in microseconds (field 15).
    var systemMicroseconds: Double
    /// User + system CPU, in microseconds.
    var cpuMicroseconds: Double { userMicroseconds + systemMicroseconds }
    /// Resident set size, in bytes.
    var rssBytes: Int

    static func read(pid: Int32?) -> ProcessSample? {
        guard let pid,
            let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        else { return nil }
        // Fields after the command name (which may hold spaces) start at field 3.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let rssKB =
            status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }?
            .split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return ProcessSample(userMicroseconds: user / ticks * 1_000_000, systemMicroseconds: system / ticks * 1_000_000, rssBytes: rssKB * 1024)
    }
}

/// Monotonic nanoseconds.
func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// Members for a run: registered and logged in before anything is timed.
struct Accounts {
    static let password = "benchmark password"

    /// Tokens for `count` members in `room`, `parallelism` logins at a time.
    static func tokens(api: ChatAPI, prefix: String, count: Int, room: String, parallelism: Int = 8) async throws -> [String] {
        try await withThrowingTaskGroup(of: (Int, String).self) { group in
            var tokens = [String](repeating: "", count: count)
            var next = 0
            func add(_ index: Int) {
                group.addTask {
                    let email = "\(prefix)-\(index)@bench.example"
                    let registered = try await api.register(email: email, username: "\(prefix)\(index)", password: password)
                    guard registered.status == 201 || registered.status == 409 else {
                        throw ChatClientError.refused(status: registered.status, body: registered.body)
                    }
                    return (index, try await api.token(email: email, password: password, roomID: room))
                }
            }
            while next < min(parallelism, count) {
                add(next)
                next += 1
            }
            while let (index, token) = try await group.next() {
                tokens[index] = token
                if next < count {
                    add(next)
                    next += 1
                }
            }
            return tokens
        }
    }
}

/// Opens `count` sockets, `parallelism` handshakes at a time.
func openSockets(count: Int, parallelism: Int, url: @escaping @Sendable (Int) -> String) async throws -> [ChatSocket] {
    try await withThrowingTaskGroup(of: (Int, ChatSocket).self) { group in
        var sockets = [ChatSocket?](repeating: nil, count: count)
        var next = 0
        func add(_ index: Int) {
            group.addTask { (index, try await ChatSocket.connect(url: url(index))) }
        }
        while next < min(parallelism, count) {
            add(next)
            next += 1
        }
        while let (index, socket) = try await group.next() {
            sockets[index] = socket
            if next < count {
                add(next)
                next += 1
            }
        }
        return sockets.compactMap { $0 }
    }
}

/// Prints a result as a table and writes it as JSON.
func report(_ title: String, _ rows: [(String, String)], json: [String: Any], to path: String?) throws {
    print("\n\(title)")
    let width = rows.map(\.0.count).max() ?? 0
    for (name, value) in rows {
        print("  \(name.padding(toLength: width, withPad: " ", startingAt: 0))  \(value)")
    }
    if let path {
        let data = try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: path))
    }
}

func format(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }
