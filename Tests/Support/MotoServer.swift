import AWSClients
import ChatAWS
import ChatCore
import Foundation
import Logging

/// moto's DynamoDB-compatible server on 127.0.0.1, started once for the whole
/// test run (by `moto_server.py` beside this file) and stopped when the test
/// process ends: its standard input closes then.
public actor MotoServer {
    /// The test run's one server. Tests share it; each uses tables of its own.
    public static let shared = MotoServer()

    private var started: (helper: PythonHelper, endpoint: String)?

    /// `http://127.0.0.1:PORT`, starting the server on first use.
    public func endpoint() async throws -> String {
        if let started { return started.endpoint }
        let helper: PythonHelper
        do {
            helper = try await PythonHelper(script: "moto_server.py")
        } catch {
            throw MotoError.didNotStart("moto_server.py did not start (\(error)); is moto[server] installed?")
        }
        started = (helper, helper.endpoint)
        return helper.endpoint
    }
}

/// Why the moto server is not available.
public enum MotoError: Error {
    /// `moto_server.py` did not start; says why and what to install.
    case didNotStart(String)
}

extension MotoServer {
    /// A DynamoDB store on a fresh table of the test run's moto server.
    public func dynamoDBStore(table: String, clock: any ChatClock) async throws -> DynamoDBStore {
        let client = DynamoDBClient(
            endpoint: AWSEndpoint(try await endpoint())!,
            credentials: AWSCredentials(accessKeyID: "testing", secretAccessKey: "testing"),
            region: "us-east-1"
        )
        let store = DynamoDBStore(client: client, table: table, clock: clock)
        try await store.createTableIfMissing(logger: Logger(label: "test"))
        return store
    }
}
