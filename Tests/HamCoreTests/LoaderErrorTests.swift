import Foundation
import HamChecks
import Testing
@testable import HamConvert
@testable import HamCore
import HamCPU
@testable import HamLoad

/// Bad model files give one clear error naming the file and what is wrong, never a crash.
@Suite struct LoaderErrorTests {
    let scratch: String

    init() throws {
        scratch = ScratchDirectory.root + "loader-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    private func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = scratch + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A safetensors file with `header` as its JSON and `dataBytes` bytes of data.
    private func safetensors(_ name: String, header: String, dataBytes: Int) throws -> String {
        var bytes = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian, Array.init)
        bytes += Array(header.utf8)
        bytes += [UInt8](repeating: 0, count: dataBytes)
        return try write(name, bytes)
    }

    private func expectError(_ expected: (LoadError) -> Bool, _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try body()
            Issue.record("no error thrown", sourceLocation: sourceLocation)
        } catch let error as LoadError {
            #expect(expected(error), "unexpected error: \(error)", sourceLocation: sourceLocation)
            #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
        } catch {
            Issue.record("not a LoadError: \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func validFileReads() throws {
        let path = try safetensors("ok.safetensors", header: #"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#, dataBytes: 16)
        let file = try SafeTensorsFile(path: path)
        #expect(try file.tensor("a").shape == [2, 2])
    }

    @Test func missingFile() {
        expectError({ if case .fileNotFound = $0 { true } else { false } }) {
            _ = try SafeTensorsFile(path: scratch + "/absent.safetensors")
        }
    }

    @Test func shorterThanTheHeaderLength() throws {
        let path = try write("tiny.safetensors", [1, 2, 3])
        expectError({ if case .truncated = $0 { true } else { false } }) { _ = try SafeTensorsFile(path: path) }
    }

    @Test func headerLongerThanTheFile() throws {
        var bytes = withUnsafeBytes(of: UInt64(1000).littleEndian, Array.init)
        bytes += Array("{}".utf8)
        let path = try write("long.safetensors", bytes)
        expectError({ if case .truncated = $0 { true } else { false } }) { _ = try SafeTensorsFile(path: path) }
    }

    @Test func truncatedData() throws {
        let path = try safetensors("cut.safetensors", header: #"{"a":{"dtype":"BF16","shape":[4,4],"data_offsets":[0,32]}}"#, dataBytes: 20)
        expectError({ if case .truncated(let p, let detail) = $0 { p == path && detail.contains("'a'") } else { false } }) {
            _ = try SafeTensorsFile(path: path)
        }
    }

    @Test func offsetsThatDoNotMatchTheShape() throws {
        let path = try safetensors("lie.safetensors", header: #"{"a":{"dtype":"F32","shape":[4,4],"data_offsets":[0,16]}}"#, dataBytes: 64)
        expectError({ if case .malformed(_, let detail) = $0 { detail.contains("'a'") } else { false } }) {
            _ = try SafeTensorsFile(path: path)
        }
    }

    @Test func offsetsBackwards() throws {
        let path = try safetensors("back.safetensors", header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#, dataBytes: 16)
        expectError({ if case .malformed = $0 { true } else { false } }) { _ = try SafeTensorsFile(path: path) }
    }

    @Test func unknownDType() throws {
        let path = try safetensors("dtype.safetensors", header: #"{"a":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}}"#, dataBytes: 4)
        expectError({ if case .unknownDType(_, "a", "F8_E4M3") = $0 { true } else { false } }) { _ = try SafeTensorsFile(path: path) }
    }

    @Test func headerIsNotJSON() throws {
        let path = try safetensors("json.safetensors", header: "{not json", dataBytes: 0)
        expectError({ if case .malformed(_, let detail) = $0 { detail.contains("JSON") } else { false } }) { _ = try SafeTensorsFile(path: path) }
    }

    @Test func negativeShape() throws {
        let path = try safetensors("neg.safetensors", header: #"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, dataBytes: 4)
        expectError({ if case .invalidField(_, "a.shape[0]", let detail) = $0 { detail.hasPrefix("is -1;") } else { false } }) { _ = try SafeTensorsFile(path: path) }
    }

    @Test func overlappingTensors() throws {
        let path = try safetensors("overlap.safetensors", header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, dataBytes: 12)
        expectError({ if case .malformed(_, let detail) = $0 { detail.contains("'a'") && detail.contains("'b'") && detail.contains("overlap") } else { false } }) {
            _ = try SafeTensorsFile(path: path)
        }
    }

    @Test func aTensorNamedTwice() throws {
        let path = try safetensors("twice.safetensors", header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, dataBytes: 8)
        expectError({ if case .malformed(_, let detail) = $0 { detail.contains("'a' twice") } else { false } }) { _ = try SafeTensorsFile(path: path) }
    }

    @Test func headerLengthAbove2To63IsShownUnsigned() throws {
        let path = try write("huge.safetensors", withUnsafeBytes(of: (UInt64(1) << 63 | 5).littleEndian, Array.init) + Array("{}".utf8))
        expectError({ if case .truncated(_, let detail) = $0 { detail.contains("header length 9223372036854775813 ") } else { false } }) {
            _ = try SafeTensorsFile(path: path)
        }
    }

    @Test func metadataThatIsNotStrings() throws {
        let path = try safetensors("meta.safetensors", header: #"{"__metadata__":{"format":7}}"#, dataBytes: 0)
        expectError({ if case .invalidField(_, "__metadata__.format", _) = $0 { true } else { false } }) { _ = try SafeTensorsFile(path: path) }
    }

    /// A FIFO would block open() until a writer comes; it is refused first, by name.
    @Test func aFIFOIsNotAModelFile() throws {
        let path = scratch + "/fifo.safetensors"
        #expect(mkfifo(path, 0o644) == 0)
        expectError({ if case .unreadable(_, let reason) = $0 { reason.contains("FIFO") } else { false } }) { _ = try SafeTensorsFile(path: path) }
        expectError({ if case .unreadable(_, let reason) = $0 { reason.contains("FIFO") } else { false } }) { _ = try ModelConfig.load(path: path) }
        expectError({ if case .unreadable(_, let reason) = $0 { reason.contains("directory") } else { false } }) { _ = try ModelConfig.load(path: scratch) }
    }

    // MARK: Model directories

    /// A copy of the tiny base model directory whose files the test may spoil.
    private func baseCopy() throws -> String {
        let directory = scratch + "/model"
        try FileManager.default.copyItem(atPath: Fixtures.tinyBase.path, toPath: directory)
        return directory
    }

    private func editConfig(_ directory: String, _ edit: (inout [String: Any]) -> Void) throws {
        let path = directory + "/config.json"
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any] ?? [:]
        edit(&json)
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
    }

    private func load(_ directory: String) throws {
        let model = try ModelFiles(path: directory)
        _ = try model.engine(on: CPUBackend(threads: 1))
    }

    @Test func configMissingAField() throws {
        let directory = try baseCopy()
        try editConfig(directory) { $0.removeValue(forKey: "hidden_size") }
        expectError({ if case .missingField(_, "hidden_size") = $0 { true } else { false } }) { try load(directory) }
    }

    @Test func configFieldOfTheWrongType() throws {
        let directory = try baseCopy()
        try editConfig(directory) { $0["num_hidden_layers"] = "sixteen" }
        expectError({ if case .invalidField(_, "num_hidden_layers", _) = $0 { true } else { false } }) { try load(directory) }
    }

    @Test func configIsNotJSON() throws {
        let directory = try baseCopy()
        try Data("{".utf8).write(to: URL(fileURLWithPath: directory + "/config.json"))
        expectError({ if case .malformed = $0 { true } else { false } }) { try load(directory) }
    }

    /// Valid JSON numbers of the wrong kind say what the field must be.
    @Test func configIntegersOfTheWrongKind() throws {
        let original = try String(contentsOfFile: Fixtures.tinyBase.appendingPathComponent("config.json").path, encoding: .utf8)
        for value in ["128.5", "1e30", "9223372036854775808", "-4", "0"] {
            let directory = scratch + "/kind-\(value)"
            try FileManager.default.copyItem(atPath: Fixtures.tinyBase.path, toPath: directory)
            let text = original.replacingOccurrences(of: #""hidden_size": 128"#, with: #""hidden_size": \#(value)"#)
            #expect(text != original)
            try text.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
            expectError({ $0.description.hasSuffix("config.json: field 'hidden_size' is \(value); expected an integer in 1...65536") }) { try load(directory) }
        }
    }

    /// Values that would make the arithmetic meaningless (NaN through every layer) are refused.
    @Test func configValuesThatMakeNoSense() throws {
        let cases: [(String, Any, String)] = [
            ("rms_norm_eps", 0, "is 0.0 in float32; expected a number above 0"),
            ("rms_norm_eps", -1e-5, "is -1e-05 in float32; expected a number above 0"),
            ("rms_norm_eps", 1e-60, "is 0.0 in float32; expected a number above 0"),
            ("rope_theta", 0, "is 0.0; expected a number above 1"),
            ("rope_theta", -10000, "is -10000.0; expected a number above 1"),
            ("rope_theta", 1e300, "is 1e+300; expected a number above 1 and at most 1e12"),
            ("max_position_embeddings", 1 << 40, "expected an integer in 1...16777216"),
            ("vocab_size", 1 << 30, "expected an integer in 1...16777216"),
            ("eos_token_id", [1, -2], "'eos_token_id[1]' is -2; expected an integer in 0...16777215"),
            ("num_hidden_layers", 100_000, "expected an integer in 1...1024"),
        ]
        for (field, value, message) in cases {
            let directory = scratch + "/sense-\(field)-\(value)"
            try FileManager.default.copyItem(atPath: Fixtures.tinyBase.path, toPath: directory)
            try editConfig(directory) { $0[field] = value }
            expectError({ $0.description.contains(field) && $0.description.contains(message) }) { try load(directory) }
        }
    }

    @Test func hamburgerMaxStepsOutOfRangeShowsTheValue() throws {
        let directory = try baseCopy()
        try editConfig(directory) { $0["hamburger"] = ["max_steps": 100_000] }
        expectError({ $0.description.hasSuffix("field 'hamburger.max_steps' is 100000; expected an integer in 1...64") }) { try load(directory) }
    }

    @Test func headsThatDoNotDivide() throws {
        let directory = try baseCopy()
        try editConfig(directory) { $0["num_key_value_heads"] = 3 }
        expectError({ if case .invalidField(_, "num_key_value_heads", _) = $0 { true } else { false } }) { try load(directory) }
    }

    @Test func wrongShapeForTheConfig() throws {
        let directory = try baseCopy()
        try editConfig(directory) { $0["intermediate_size"] = 300 }
        expectError({ if case .shapeMismatch(_, "model.layers.0.mlp.gate_proj.weight", [300, 128], [256, 128]) = $0 { true } else { false } }) {
            try load(directory)
        }
    }

    @Test func missingTensor() throws {
        let directory = try baseCopy()
        try editConfig(directory) { $0["num_hidden_layers"] = 17 }
        expectError({ if case .missingTensor(_, "model.layers.16.input_layernorm.weight") = $0 { true } else { false } }) { try load(directory) }
    }

    @Test func untiedModelWithoutLMHead() throws {
        let directory = try baseCopy()
        try editConfig(directory) { $0["tie_word_embeddings"] = false }
        expectError({ if case .missingTensor(_, "lm_head.weight") = $0 { true } else { false } }) { try load(directory) }
    }

    @Test func hamburgerConfigWithoutItsTensors() throws {
        let directory = try baseCopy()
        try editConfig(directory) { $0["hamburger"] = ["max_steps": 4] }
        expectError({ if case .missingTensor(_, let name) = $0 { name.hasPrefix("comp_embedder.") } else { false } }) { try load(directory) }
    }

    @Test func badHAMburgerFields() throws {
        let directory = try baseCopy()
        try editConfig(directory) { $0["hamburger"] = ["feature_layers": [3, 99]] }
        expectError({ if case .invalidField(_, "hamburger.feature_layers", _) = $0 { true } else { false } }) { try load(directory) }
        try editConfig(directory) { $0["hamburger"] = ["merger_heads": 7] }
        expectError({ if case .invalidField(_, "hamburger.merger_heads", _) = $0 { true } else { false } }) { try load(directory) }
        // Causal is the only micro attention; "bidirectional" (the old fixture's) is refused too.
        for mode in ["sideways", "bidirectional"] {
            try editConfig(directory) { $0["hamburger"] = ["micro_attention": mode] }
            expectError({ if case .invalidField(_, "hamburger.micro_attention", _) = $0 { true } else { false } }) { try load(directory) }
        }
    }

    @Test func noWeights() throws {
        let directory = try baseCopy()
        try FileManager.default.removeItem(atPath: directory + "/model.safetensors")
        expectError({ if case .fileNotFound(let p) = $0 { p.hasSuffix("model.safetensors") } else { false } }) { try load(directory) }
    }

    @Test func notADirectory() throws {
        let path = try write("file", [0])
        expectError({ if case .unreadable = $0 { true } else { false } }) { _ = try ModelFiles(path: path) }
    }
}
