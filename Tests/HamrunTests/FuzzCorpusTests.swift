import Foundation
import Testing

/// The fuzzers' seed corpora and every input a fuzzer once crashed on
/// (Tests/Fixtures/fuzz/regressions/TARGET) go through the same entry points on every test run,
/// without libFuzzer (Tools/fuzz/run does the fuzzing).
@Suite struct FuzzCorpusTests {
    static let root = HamrunProcess.fixtures.appendingPathComponent("fuzz").path

    static var targets: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter { name in
            var isDirectory: ObjCBool = false
            return name != "regressions" && FileManager.default.fileExists(atPath: root + "/" + name, isDirectory: &isDirectory) && isDirectory.boolValue
        }.sorted()
    }

    @Test func everyTargetHasSeeds() {
        #expect(Set(Self.targets).isSuperset(of: ["json", "config", "safetensors", "zip", "pickle", "tokenizer", "gguf"]))
    }

    @Test(arguments: targets)
    func corpusReplaysWithoutACrash(target: String) throws {
        var paths = [Self.root + "/" + target]
        let regressions = Self.root + "/regressions/" + target
        if FileManager.default.fileExists(atPath: regressions) { paths.append(regressions) }
        let binary = HamrunProcess.binary.deletingLastPathComponent().appendingPathComponent("hamrun-fuzz").path
        let r = try HamrunProcess.shell("\(shellQuoted(binary)) \(target) \(paths.map(shellQuoted).joined(separator: " "))")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("\(target): ") && r.stdout.contains("no crash"), "\(r.stdout)")
    }
}
