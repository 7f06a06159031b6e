import ArgumentParser
import ChatCore
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The JWT secret: `CHAT_JWT_SECRET` when set, else one generated on first start
/// and kept in the data folder, readable by the owner only, so tokens survive a restart.
enum JWTSecret {
    static let environmentVariable = "CHAT_JWT_SECRET"
    static let fileName = "jwt-secret"

    static func load(environment: [String: String], dataDirectory: String, logger: Logger) throws -> [UInt8] {
        if let configured = environment[environmentVariable] {
            guard configured.utf8.count >= TokenService.minimumSecretBytes else {
                throw ValidationError("\(environmentVariable) must be at least \(TokenService.minimumSecretBytes) bytes long")
            }
            return Array(configured.utf8)
        }
        let path = dataDirectory + "/" + fileName
        if let stored = FileManager.default.contents(atPath: path) {
            let text = String(decoding: stored, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let secret = Base64URL.decode(text), secret.count >= TokenService.minimumSecretBytes else {
                throw ValidationError("\(path) does not hold a usable secret; delete it to generate a new one")
            }
            return Array(secret)
        }
        var generator = SystemRandomNumberGenerator()
        let secret = (0..<48).map { _ in UInt8.random(in: 0...255, using: &generator) }
        do {
            try PrivateFiles.write(Array((Base64URL.encode(secret) + "\n").utf8), to: path)
        } catch {
            throw ValidationError("could not write \(path): \(error)")
        }
        logger.info("generated a JWT secret", metadata: ["file": "\(path)"])
        return secret
    }
}

/// Files only their owner may read (PROTOCOL.md §2b, data at rest): they hold
/// password hashes and the token secret.
enum PrivateFiles {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Creates the data folder with mode 0700; an existing one is left as it is,
    /// with a warning when others may read it.
    static func directory(_ path: String, logger: Logger) throws {
        if let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int {
            if mode & 0o077 != 0 {
                logger.warning(
                    "the data folder can be read by other users; chmod 700 it",
                    metadata: ["folder": "\(path)", "mode": "\(String(mode & 0o777, radix: 8))"]
                )
            }
            return
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    /// Writes `bytes` atomically: a new file created 0600, synced, renamed over
    /// `path`, and the folder synced, so a crash leaves the old file or the new one.
    static func write(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".tmp-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(description: "open: \(String(cString: strerror(errno)))") }
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard count > 0 else {
                close(fd)
                unlink(temporary)
                throw Failure(description: "write: \(String(cString: strerror(errno)))")
            }
            written += count
        }
        guard fsync(fd) == 0, close(fd) == 0 else {
            unlink(temporary)
            throw Failure(description: "fsync: \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw Failure(description: "rename: \(String(cString: strerror(errno)))")
        }
        let folder = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
    }
}
