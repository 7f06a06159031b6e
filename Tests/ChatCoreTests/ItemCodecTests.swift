import ChatCore
import Testing

/// The one DynamoDB item codec, and its one rule for what it cannot read.
@Suite struct ItemCodecTests {
    @Test func anItemRoundTripsWithItsKeysAndTTL() throws {
        let item = Item(pk: "ROOM#lobby", sk: "MESSAGE#1", attributes: ["Text": .string("hi \"there\""), "Count": .number(-7)], ttl: 1_764_093_600)
        let encoded = ItemCodec.encode(item)
        #expect(encoded["TTL"] == ["N": "1764093600"])
        #expect(encoded["Count"] == ["N": "-7"])
        #expect(ItemCodec.item(try #require(encoded.objectValue)) == item)
        let text = ItemCodec.text(item.attributes)
        #expect(text == #"{"Count":{"N":"-7"},"Text":{"S":"hi \"there\""}}"#)
        #expect(ItemCodec.attributes(try #require(JSONValue.parse(text)?.objectValue)) == item.attributes)
    }

    @Test func anAttributeOfAnotherTypeIsLeftOutAndAMalformedOneRefusesTheItem() {
        let base: [String: JSONValue] = ["PK": ["S": "USER#a"], "SK": ["S": "PROFILE"], "Name": ["S": "a"]]
        var withBool = base
        withBool["Flag"] = ["BOOL": true]
        #expect(ItemCodec.item(withBool)?.attributes == ["Name": .string("a")])
        for malformed: JSONValue in [["N": "1.5"], ["N": 3], ["S": 3], ["S": "x", "N": "1"], "bare"] {
            var item = base
            item["Bad"] = malformed
            #expect(ItemCodec.item(item) == nil, "\(malformed)")
        }
        var badTTL = base
        badTTL["TTL"] = ["S": "soon"]
        #expect(ItemCodec.item(badTTL) == nil)
        #expect(ItemCodec.item(["PK": ["S": "x"]]) == nil, "no sort key")
    }
}
