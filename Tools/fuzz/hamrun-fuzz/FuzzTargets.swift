import HamCore
import HamFiles
import HamJSON
import HamLoad
@testable import HamTokenizer
@testable import HamConvert

#if canImport(Glibc)
import Glibc
#endif

/// Every parser of hostile input, by name. Each entry feeds the bytes to the parser the way
/// hamrun does and reads what comes out; bad input must end in a thrown error. A crash, a hang,
/// a read outside the input (AddressSanitizer) or a broken round trip (a trap here) is a bug.
///
/// To add a parser: one line here and a folder of seeds in Tests/Fixtures/fuzz/NAME.
let fuzzTargets: [String: @Sendable (UnsafeRawBufferPointer) -> Void] = [
    "json": fuzzJSON,
    "config": fuzzConfig,
    "safetensors": fuzzSafeTensors,
    "zip": fuzzCheckpoint,
    "pickle": fuzzPickle,
    "tokenizer": fuzzTokenizer,
    "gguf": { _ = fuzzGGUF($0) },
]

/// Work done once per process whose first run would exceed libFuzzer's time per input (the
/// splitter's table of Unicode classes takes seconds with sanitizers): done before fuzzing.
let fuzzWarmUps: [String: @Sendable () -> Void] = [
    "tokenizer": { _ = Llama3Splitter() },
]

/// Any JSON text: parsed, every value read, and what `JSONText` writes of it must parse back to
/// the same text.
func fuzzJSON(_ data: UnsafeRawBufferPointer) {
    guard let document = try? JSONDocument(data, source: "fuzz.json") else { return }
    var work = [document.root]
    var seen = 0
    while let value = work.popLast() {
        seen += 1
        _ = (value.stringValue, value.integerValue, value.doubleValue, value.boolValue, value.shown)
        if seen < 64 { _ = value.path }
        work.append(contentsOf: value.elements)
        for member in value.members { work.append(member.value) }
    }
    let text = JSONText(document.root).rendered()
    guard let again = try? JSONDocument(Array(text.utf8), source: "again.json") else {
        fatalError("JSONText wrote text its own parser refuses: \(text.prefix(200))")
    }
    precondition(JSONText(again.root).rendered() == text, "a JSONText round trip changed the text")
}

/// config.json: parsed and validated; an accepted config must give a tensor schema whose sizes
/// do not overflow.
func fuzzConfig(_ data: UnsafeRawBufferPointer) {
    guard let config = try? ModelConfig.parse(data, path: "config.json") else { return }
    let schema = ModelSchema(config: config).all
    precondition(!schema.isEmpty)
    for spec in schema {
        let (_, overflow) = spec.shape.reduce((1, false)) { acc, d in
            let (p, o) = acc.0.multipliedReportingOverflow(by: d)
            return (p, acc.1 || o)
        }
        precondition(!overflow, "\(spec.name) \(spec.shape) overflows")
    }
}

/// A .safetensors file: opened, and every tensor's first and last bytes read.
func fuzzSafeTensors(_ data: UnsafeRawBufferPointer) {
    withScratchFile(data) { path in
        guard let file = try? SafeTensorsFile(path: path) else { return }
        var touched: UInt8 = 0
        for name in file.names {
            guard let tensor = try? file.tensor(name) else { continue }
            if let first = tensor.bytes.first, let last = tensor.bytes.last { touched ^= first ^ last }
        }
        withExtendedLifetime(touched) {}
    }
}

/// A checkpoint zip: opened as `hamrun convert` opens it (zip directory, CRCs, the pickle), and
/// every state-dict tensor described and read.
func fuzzCheckpoint(_ data: UnsafeRawBufferPointer) {
    withScratchFile(data) { path in
        guard let checkpoint = try? TorchCheckpoint(path: path) else { return }
        var touched: UInt8 = 0
        for (name, _) in checkpoint.stateDict {
            _ = try? checkpoint.describe(name)
            guard let tensor = try? checkpoint.tensor(name) else { continue }
            if let first = tensor.bytes.first, let last = tensor.bytes.last { touched ^= first ^ last }
        }
        withExtendedLifetime(touched) {}
    }
}

/// A data.pkl: unpickled with the checkpoint reader's own storage and call rules.
func fuzzPickle(_ data: UnsafeRawBufferPointer) {
    var unpickler = Unpickler(bytes: data, path: "fuzz.ckpt", entry: "data.pkl",
                              persistentLoad: TorchCheckpoint.persistentLoad, call: TorchCheckpoint.call)
    guard let value = try? unpickler.load() else { return }
    _ = (value.kind, value.dictionary?.entries.count)
    unpickler.arena.removeAllChildren()
}

/// A tokenizer.json: loaded, then a text with special tokens encoded and decoded.
func fuzzTokenizer(_ data: UnsafeRawBufferPointer) {
    guard let tokenizer = try? Tokenizer(data: data, source: "fuzz.json") else { return }
    let ids = tokenizer.encode("Hello, wörld! <|begin_of_text|> 12345 \u{1F600}\n\t x")
    _ = try? tokenizer.decode(ids)
    _ = try? tokenizer.decode([0, 1, 2, Int32(tokenizer.vocabSize - 1)])
}

/// Readers that take a path get the input as a file.
private func withScratchFile(_ data: UnsafeRawBufferPointer, _ body: (String) -> Void) {
    let path = scratchFile
    unlink(path)
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { fatalError("cannot create \(path)") }
    var done = 0
    while done < data.count, let base = data.baseAddress {
        let n = write(fd, base + done, data.count - done)
        guard n > 0 else { fatalError("cannot write \(path)") }
        done += n
    }
    close(fd)
    body(path)
    unlink(path)
}

private let scratchFile: String = {
    let directory = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
    return "\(directory)/hamrun-fuzz-\(getpid()).bin"
}()
