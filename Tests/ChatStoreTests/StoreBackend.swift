import AWSClients
import ChatAWS
import ChatCore
import ChatSQLiteStore
import Foundation
import Logging
import TestSupport
import Testing

/// The backends the conformance suite runs on.
enum StoreBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case dynamodb
    /// SQLite behind the local gateway's in-memory cache of connection items.
    case cachedSQLite

    var testDescription: String { rawValue }

    /// Runs `body` on a fresh, empty store of this backend, with a clock the test moves.
    func withStore(_ body: (any ChatStore, ManualClock) async throws -> Void) async throws {
        let clock = ManualClock()
        switch self {
        case .sqlite:
            let directory = try TemporaryDirectory()
            let store = try await SQLiteStore.open(path: directory.path + "/conformance.sqlite", clock: clock)
            do {
                try await body(store, clock)
            } catch {
                try await store.close()
                throw error
            }
            try await store.close()
        case .cachedSQLite:
            let directory = try TemporaryDirectory()
            let store = try await SQLiteStore.open(path: directory.path + "/conformance.sqlite", clock: clock)
            do {
                try await body(ConnectionCache(store, clock: clock), clock)
            } catch {
                try await store.close()
                throw error
            }
            try await store.close()
        case .dynamodb:
            let store = try await MotoServer.shared.dynamoDBStore(table: "conformance-\(UUID().uuidString)", clock: clock)
            try await body(store, clock)
        }
    }
}
