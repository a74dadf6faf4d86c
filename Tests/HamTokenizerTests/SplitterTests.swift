import Foundation
import Testing
@testable import HamTokenizer

/// The hand-written scanner against the pieces Hugging Face's Split pre-tokenizer makes.
@Suite struct SplitterTests {
    static func pieces(_ text: String) -> [String] {
        var text = text
        return text.withUTF8 { buf in
            guard let p = buf.baseAddress else { return [] }
            let splitter = Llama3Splitter()
            var out: [String] = []
            var i = 0
            while i < buf.count {
                let e = splitter.pieceEnd(p, buf.count, i)
                out.append(String(decoding: buf[i..<e], as: UTF8.self))
                i = e
            }
            return out
        }
    }

    @Test func referencePieces() throws {
        let root = try #require(try Fixtures.json("llama3-tokenizer/pretokenize.json") as? [String: Any])
        let cases = try #require(root["cases"] as? [[String: Any]])
        #expect(cases.count > 200)
        for c in cases {
            let text = try #require(c["text"] as? String)
            let want = try #require(c["pieces"] as? [String])
            #expect(Self.pieces(text) == want, "\(String(reflecting: text))")
        }
    }

    /// The corners of the pattern, spelled out.
    @Test(arguments: [
        ("I'm", ["I", "'m"]),
        ("I'M", ["I", "'M"]),
        ("they'll've", ["they", "'ll", "'ve"]),
        ("'LLama", ["'LL", "ama"]),
        ("'\u{17F}a", ["'\u{17F}", "a"]),           // long s folds to s
        ("'\u{212A}a", ["'\u{212A}a"]),              // the Kelvin sign is no 't'
        ("'xyz", ["'xyz"]),
        ("  hello", [" ", " hello"]),
        ("\thello", ["\thello"]),
        ("\nhello", ["\n", "hello"]),
        ("12345", ["123", "45"]),
        ("a1b", ["a", "1", "b"]),
        (" !!!\n\nx", [" !!!\n\n", "x"]),
        ("x   ", ["x", "   "]),
        ("x   y", ["x", "  ", " y"]),
        ("x \n y", ["x", " \n", " y"]),
        ("x\u{00A0}\u{00A0}y", ["x", "\u{00A0}", "\u{00A0}y"]),
        ("x\u{200B}y", ["x", "\u{200B}y"]),          // zero width space is not \s
        ("e\u{301}e", ["e", "\u{301}e"]),            // a mark is not \p{L}
        ("\r\n\r\n", ["\r\n\r\n"]),
        ("  \n  \n  x", ["  \n  \n", " ", " x"]),
    ])
    func pieces(text: String, want: [String]) {
        #expect(Self.pieces(text) == want)
    }
}

/// Every code point is classed as Hugging Face's Oniguruma classes it.
@Suite struct ScalarClassTests {
    @Test func everyScalarMatchesReference() throws {
        let root = try #require(try Fixtures.json("llama3-tokenizer/scalar-classes.json") as? [String: Any])
        let runs = try #require(root["runs"] as? [[Int]])
        var mismatches: [String] = []
        for (k, run) in runs.enumerated() {
            let end = k + 1 < runs.count ? runs[k + 1][0] : 0x110000
            for v in run[0]..<end where !(0xD800..<0xE000).contains(v) {
                if Int(ScalarClass.huggingFace.of(UInt32(v))) != run[1] && mismatches.count < 20 {
                    mismatches.append("U+\(String(v, radix: 16, uppercase: true)): ours \(ScalarClass.huggingFace.of(UInt32(v))), reference \(run[1])")
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches)")
    }
}
