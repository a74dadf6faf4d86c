import Foundation
import HamTokenizer
import Testing
@testable import HamServe

/// What a client receives of generated ids: whole UTF-8 characters in every piece (a character
/// split across tokens waits for its last byte), stop strings found across token boundaries and
/// never sent, and the pieces adding up to the whole reply.
@Suite struct ReplyTextTests {
    /// The embedded model's byte-level tokenizer: a 4,096-token vocabulary learnt on Shakespeare,
    /// so multi-byte characters are split across tokens.
    static let tokenizer: Tokenizer? = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Models/shakespeare-hamburger/tokenizer.json")
        return try? Tokenizer(contentsOf: url)
    }()

    static let text = "Fair café, naïve Jürgen — 東京 🍔 and thee."

    /// The pieces `ReplyText` releases, token by token, then at the end.
    static func pieces(_ ids: [Int32], stop: [String] = []) throws -> (pieces: [String], reply: ReplyText) {
        var reply = ReplyText(tokenizer: try #require(tokenizer), stop: stop)
        var pieces = ids.map { reply.append($0) }
        pieces.append(reply.finish())
        return (pieces, reply)
    }

    @Test func multiByteCharactersSplitAcrossTokensArriveWhole() throws {
        let tokenizer = try #require(Self.tokenizer)
        let ids = tokenizer.encode(Self.text, addSpecialTokens: false)
        // The test means something only if some token holds part of a character.
        let partial = ids.filter { id in
            guard let bytes = tokenizer.bytes(forId: id) else { return false }
            return String(validating: bytes, as: UTF8.self) == nil
        }
        #expect(partial.count >= 4, "no character of \(Self.text) is split across tokens")
        let (pieces, _) = try Self.pieces(ids)
        for piece in pieces { #expect(!piece.contains("\u{FFFD}"), "piece \(piece.debugDescription) holds a broken character") }
        #expect(pieces.joined() == Self.text)
    }

    @Test func stopStringsAcrossTokensAreCutAndNeverSent() throws {
        let tokenizer = try #require(Self.tokenizer)
        let ids = tokenizer.encode(Self.text, addSpecialTokens: false)
        for stop in ["東京", "ve J", "🍔", "thee."] {
            let (pieces, reply) = try Self.pieces(ids, stop: [stop, "never there"])
            let expected = String(Self.text[..<Self.text.range(of: stop)!.lowerBound])
            #expect(pieces.joined() == expected, "stop \(stop)")
            #expect(reply.stopped)
            // Everything up to the token that completed the stop string was taken, nothing after.
            #expect(reply.tokenCount < ids.count || stop == "thee.")
        }
        // A stop string that never completes: its held-back start is released at the end.
        let (pieces, reply) = try Self.pieces(ids, stop: ["thee!"])
        #expect(pieces.joined() == Self.text && !reply.stopped)
    }

    @Test func stopFilterHoldsBackOnlyWhatCouldStartAStop() {
        var filter = StopStringFilter(["\nUser:", "##"])
        #expect(filter.append("Hello") == "Hello")
        #expect(filter.append(" there\nUs") == " there")
        #expect(filter.append("ually") == "\nUsually")
        #expect(filter.append(" #") == " ")
        #expect(filter.append("# gone") == "")
        #expect(filter.stopped)
        #expect(filter.append("more") == "" && filter.finish() == "")
    }
}
