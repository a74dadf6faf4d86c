import Foundation
import HamChecks
import HamConvert
import Testing

@Suite struct QuantizeCommandTests {
    @Test func quantizeThenGenerate() throws {
        let base = HamrunProcess.fixtures.appendingPathComponent("tiny-hamburger-ref/base").path
        let out = ScratchDirectory.root + "quantize-cli-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let q = try HamrunProcess.run(["quantize", "--model", base, "--out", out])
        #expect(q.status == 0, "\(q.stderr)")
        #expect(q.stdout.contains(" q8_0") && q.stdout.contains("kept"), "\(q.stdout)")
        let g = try HamrunProcess.run(["generate", "--model", out, "--prompt-ids", "1019,418,308", "--max-tokens", "4", "--json"])
        #expect(g.status == 0, "\(g.stderr)")

        let again = try HamrunProcess.run(["quantize", "--model", base, "--out", out])
        #expect(again.status != 0)
        #expect(again.stderr.hasPrefix("hamrun: error: ") && again.stderr.split(separator: "\n").count == 1)
        let badType = try HamrunProcess.run(["quantize", "--model", base, "--out", out + "-x", "--type", "q4"])
        #expect(badType.status != 0 && badType.stderr.contains("q4"))
        let widening = try HamrunProcess.run(["quantize", "--model", base, "--out", out + "-x", "--type", "f32"])
        #expect(widening.status != 0 && widening.stderr.contains("--type") && widening.stderr.contains("q4_k"), "\(widening.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out + "-x"))
    }

    /// The 4-bit mix and narrowing, through the command line.
    @Test(arguments: ["q4_k", "q4_0", "f16"])
    func quantizeToOtherTypesThenGenerate(type: String) throws {
        let base = HamrunProcess.fixtures.appendingPathComponent("tiny-hamburger-ref/base").path
        let out = ScratchDirectory.root + "quantize-\(type)-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let q = try HamrunProcess.run(["quantize", "--model", base, "--out", out, "--type", type])
        #expect(q.status == 0, "\(q.stderr)")
        #expect(q.stdout.contains(" \(type == "q4_k" ? "q6_k" : type)"), "\(q.stdout)")
        let g = try HamrunProcess.run(["generate", "--model", out, "--mode", "base", "--prompt-ids", "1019,418,308", "--max-tokens", "4", "--json"])
        #expect(g.status == 0, "\(g.stderr)")
    }

    /// `convert --dtype`: the checkpoint's float32 micro layers come out bf16; a block type is refused.
    @Test func convertWithADType() throws {
        let fixture = HamrunProcess.fixtures.appendingPathComponent("tiny-hamburger-ref")
        let out = ScratchDirectory.root + "convert-dtype-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let args = ["convert", "--checkpoint", fixture.appendingPathComponent("hamburger.ckpt").path,
                    "--base", fixture.appendingPathComponent("base").path, "--out", out]
        let c = try HamrunProcess.run(args + ["--dtype", "bf16"])
        #expect(c.status == 0, "\(c.stderr)")
        let g = try HamrunProcess.run(["generate", "--model", out, "--prompt-ids", "1019,418,308", "--max-tokens", "4", "--json"])
        #expect(g.status == 0, "\(g.stderr)")
        let bad = try HamrunProcess.run(args.dropLast() + [out + "-x", "--dtype", "q8_0"])
        #expect(bad.status != 0 && bad.stderr.contains("--dtype") && bad.stderr.split(separator: "\n").count == 1, "\(bad.stderr)")
    }
}
