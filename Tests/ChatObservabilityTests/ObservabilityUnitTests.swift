import ChatObservability
import CoreMetrics
import Foundation
import Logging
import Synchronization
import Testing

@Suite struct EmbeddedMetricFormatTests {
    func documents(_ lines: [String]) throws -> [[String: Any]] {
        try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    @Test func countersSumTimersKeepValuesAndAFlushStartsOver() throws {
        let emf = EmbeddedMetricFormat(namespace: "Chatroom", dimensions: [("function", "sendMessage")])
        let stored = Counter(label: "chatroom_messages_stored_total", dimensions: [], factory: emf)
        let latency = Timer(label: "chatroom_store_commit_seconds", dimensions: [], factory: emf)
        stored.increment()
        stored.increment(by: 2)
        latency.recordNanoseconds(1_500_000)
        latency.recordNanoseconds(500_000)
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        let lines = emf.flush(timestamp: at)
        #expect(lines.count == 1)
        let document = try #require(try documents(lines).first)
        #expect(document["function"] as? String == "sendMessage")
        #expect(document["chatroom_messages_stored_total"] as? Double == 3)
        #expect(document["chatroom_store_commit_seconds"] as? [Double] == [0.0015, 0.0005])
        let aws = try #require(document["_aws"] as? [String: Any])
        #expect(aws["Timestamp"] as? Int64 == 1_800_000_000_000)
        let directive = try #require((aws["CloudWatchMetrics"] as? [[String: Any]])?.first)
        #expect(directive["Namespace"] as? String == "Chatroom")
        #expect(directive["Dimensions"] as? [[String]] == [["function"]])
        let metrics = try #require(directive["Metrics"] as? [[String: String]])
        #expect(metrics.contains(["Name": "chatroom_messages_stored_total", "Unit": "Count"]))
        #expect(metrics.contains(["Name": "chatroom_store_commit_seconds", "Unit": "Seconds"]))
        #expect(emf.flush().isEmpty)
    }

    @Test func eachDimensionSetIsADocumentAndLongSeriesAreSplitAtAHundredValues() throws {
        let emf = EmbeddedMetricFormat(namespace: "Chatroom", dimensions: [("function", "default")])
        Counter(label: "chatroom_frames_total", dimensions: [("route", "$default"), ("outcome", "ok")], factory: emf).increment()
        let timer = Timer(label: "chatroom_broadcast_seconds", dimensions: [], factory: emf)
        for value in 1...150 { timer.recordNanoseconds(Int64(value)) }
        let all = try documents(emf.flush())
        #expect(all.count == 3)
        let labelled = all.filter { $0["route"] != nil }
        #expect(labelled.count == 1)
        let directive = try #require(((labelled.first?["_aws"] as? [String: Any])?["CloudWatchMetrics"] as? [[String: Any]])?.first)
        #expect(directive["Dimensions"] as? [[String]] == [["function", "outcome", "route"]])
        let chunks = all.compactMap { $0["chatroom_broadcast_seconds"] as? [Double] }
        #expect(chunks.map(\.count).sorted() == [50, 100])
    }
}

@Suite struct PrometheusExportTests {
    @Test func catalogNamesAndHelpTextsGoIntoTheExposition() {
        let export = PrometheusExport(catalog: ["hb.requests": (name: "chatroom_http_requests_total", help: "HTTP requests.")])
        Counter(label: "hb.requests", dimensions: [("http.route", "/health")], factory: export).increment(by: 2)
        Counter(label: "not_in_catalog_total", dimensions: [], factory: export).increment()
        let text = export.exposition()
        #expect(text.contains("# HELP chatroom_http_requests_total HTTP requests.\n"))
        #expect(text.contains(#"chatroom_http_requests_total{http_route="/health"} 2"#))
        // Every family has help text, even one the catalog does not know.
        #expect(text.contains("# HELP not_in_catalog_total not_in_catalog_total\n"))
    }
}

@Suite struct JSONLogHandlerTests {
    @Test func oneObjectPerLineWithMetadataFromEverywhere() throws {
        let written = Mutex<[Data]>([])
        let provider = Logger.MetadataProvider { ["connection": "c-1"] }
        var logger = Logger(label: "chatroom") { label in
            JSONLogHandler(label: label, metadataProvider: provider) { data in written.withLock { $0.append(data) } }
        }
        logger[metadataKey: "component"] = "test"
        logger.info("said \"hi\"\nthen left", metadata: ["room": "lobby", "tags": ["a", "b"]])
        logger.debug("not at info level")
        let lines = written.withLock { $0 }
        #expect(lines.count == 1)
        let data = try #require(lines.first)
        #expect(data.last == 0x0A)
        #expect(data.dropLast().contains(0x0A) == false)
        let event = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(event["message"] as? String == "said \"hi\"\nthen left")
        #expect(event["level"] as? String == "info")
        #expect(event["logger"] as? String == "chatroom")
        #expect(event["room"] as? String == "lobby")
        #expect(event["tags"] as? [String] == ["a", "b"])
        #expect(event["component"] as? String == "test")
        #expect(event["connection"] as? String == "c-1")
        #expect((event["time"] as? String)?.hasSuffix("Z") == true)
    }
}
