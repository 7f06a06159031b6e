import ChatCore
import Synchronization

/// A store in front of the real one that holds back the recording of one
/// member's connections until the test opens the gate: a `$connect` caught half
/// way, for what the server does meanwhile. Everything else passes straight on.
final class GatedStore: ChatStore {
    private let base: any ChatStore
    private let email: String
    private let state = Mutex<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    init(_ base: any ChatStore, holdingConnectionsOf email: String) {
        self.base = base
        self.email = email
    }

    /// How many writes are being held.
    var held: Int { state.withLock { $0.waiting.count } }

    /// Lets the held writes, and all later ones, through.
    func open() {
        let waiting = state.withLock { state in
            state.open = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    func put(_ item: Item, condition: PutCondition) async throws {
        if item.sk.hasPrefix(Keys.connectionPrefix), item.attributes["Email"] == .string(email) {
            await withCheckedContinuation { continuation in
                let passes = state.withLock { state in
                    if state.open { return true }
                    state.waiting.append(continuation)
                    return false
                }
                if passes { continuation.resume() }
            }
        }
        try await base.put(item, condition: condition)
    }

    func get(_ key: ItemKey) async throws -> Item? { try await base.get(key) }
    func delete(_ key: ItemKey) async throws -> Item? { try await base.delete(key) }
    func query(pk: String, skPrefix: String, order: SortOrder, limit: Int, exclusiveStart: String?) async throws -> QueryPage {
        try await base.query(pk: pk, skPrefix: skPrefix, order: order, limit: limit, exclusiveStart: exclusiveStart)
    }
    func update(_ key: ItemKey, _ changes: [AttributeChange], if condition: ItemCondition) async throws -> Item {
        try await base.update(key, changes, if: condition)
    }
    func transactWrite(_ writes: [TransactionWrite]) async throws { try await base.transactWrite(writes) }
    func deleteAll(skPrefix: String) async throws -> Int { try await base.deleteAll(skPrefix: skPrefix) }
    func ping() async throws { try await base.ping() }
}
