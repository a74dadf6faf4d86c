// Times tokenizer.json loading and encoding for Tools/tokenizer/bench.py.
//
//     tokenizer-bench [--lines] TOKENIZER_JSON TEXT_FILE [RUNS] [IDS_OUT]
//
// Prints one JSON object: load seconds (each run), encode seconds (each run, a fresh
// tokenizer each time so the word cache starts cold, as it would for a new process),
// the text's size, and the token count. The text is encoded as one string, or with
// --lines line by line (each line with its newline). With IDS_OUT, also writes the ids
// (without BOS) as little-endian int32, for bench.py to check that every tokenizer
// produced the same.
import Foundation
import HamTokenizer

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(1)
}

let lines = CommandLine.arguments.contains("--lines")
let args = CommandLine.arguments.filter { $0 != "--lines" }
guard args.count >= 3 else { fail("usage: tokenizer-bench [--lines] TOKENIZER_JSON TEXT_FILE [RUNS] [IDS_OUT]") }
let tokenizerURL = URL(fileURLWithPath: args[1])
let runs = args.count > 3 ? Int(args[3]) ?? 3 : 3
guard let data = FileManager.default.contents(atPath: args[2]),
      let text = String(data: data, encoding: .utf8)
else { fail("\(args[2]): cannot read as UTF-8 text") }

/// The text line by line, each line keeping its "\n" (split on bytes: in Swift "\r\n" is
/// one Character, which a Character search for "\n" would not find).
let pieces: [String] = {
    guard lines else { return [text] }
    var out: [String] = []
    var start = 0
    let bytes = Array(text.utf8)
    for (i, b) in bytes.enumerated() where b == 0x0A {
        out.append(String(decoding: bytes[start...i], as: UTF8.self))
        start = i + 1
    }
    if start < bytes.count { out.append(String(decoding: bytes[start...], as: UTF8.self)) }
    return out
}()

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

var loads: [Double] = []
var encodes: [Double] = []
var ids: [Int32] = []
let clock = ContinuousClock()
for _ in 0..<max(1, runs) {
    var tokenizer: Tokenizer?
    let load = try clock.measure { tokenizer = try Tokenizer(contentsOf: tokenizerURL) }
    guard let tokenizer else { fail("no tokenizer") }
    let encode = clock.measure {
        ids = []
        for piece in pieces { ids += tokenizer.encode(piece, addSpecialTokens: false) }
    }
    loads.append(seconds(load))
    encodes.append(seconds(encode))
}
if args.count > 4 {
    let out = ids.withUnsafeBufferPointer { Data(buffer: $0) }
    guard FileManager.default.createFile(atPath: args[4], contents: out) else { fail("\(args[4]): cannot write") }
}
let bytes = text.utf8.count
print("{\"load_s\": \(loads), \"encode_s\": \(encodes), \"bytes\": \(bytes), \"tokens\": \(ids.count)}")
