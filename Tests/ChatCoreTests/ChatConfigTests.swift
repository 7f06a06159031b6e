import ChatCore
import Testing

/// The one settings type: defaults, the Lambda environment's names, one validation.
@Suite struct ChatConfigTests {
    @Test func theEnvironmentSetsWhatItNamesAndNothingElse() throws {
        let config = try ChatConfig(environment: ["TOKEN_LIFETIME_SECONDS": "600", "MESSAGE_RETENTION_DAYS": "7", "UNRELATED": "x"])
        #expect(config.tokenLifetimeSeconds == 600)
        #expect(config.messageRetentionSeconds == 7 * 86_400)
        #expect(config.maxMessageLength == ChatConfig().maxMessageLength)
        #expect(try ChatConfig(environment: [:]) == ChatConfig())
    }

    @Test func aSettingThatIsNotANumberOrNotPositiveIsRefusedByName() {
        #expect(throws: ChatError.self) { try ChatConfig(environment: ["TOKEN_LIFETIME_SECONDS": "an hour"]) }
        #expect(throws: ChatError.self) { try ChatConfig(environment: ["MAX_MESSAGE_LENGTH": "0"]) }
        do {
            _ = try ChatConfig(environment: ["MESSAGE_RETENTION_DAYS": "-1"])
            Issue.record("a negative retention was accepted")
        } catch {
            #expect(error.message.contains("retention"))
        }
        var config = ChatConfig()
        config.sendingRate = RateLimit(burst: 0, perSecond: 1)
        #expect(throws: ChatError.self) { try config.validate() }
    }
}
