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
        expectError({ if case .malformed = $0 { true } else { false } }) { _ = try SafeTensorsFile(path: path) }
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
        _ = try HAMburgerGraph(model: model, backend: CPUBackend(threads: 1), mode: model.isHAMburger ? .hamburger : .base)
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
        try editConfig(directory) { $0["hamburger"] = ["micro_attention": "sideways"] }
        expectError({ if case .invalidField(_, "hamburger.micro_attention", _) = $0 { true } else { false } }) { try load(directory) }
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
