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
        #expect(q.stdout.contains("as q8_0"))
        let g = try HamrunProcess.run(["generate", "--model", out, "--prompt-ids", "1019,418,308", "--max-tokens", "4", "--json"])
        #expect(g.status == 0, "\(g.stderr)")

        let again = try HamrunProcess.run(["quantize", "--model", base, "--out", out])
        #expect(again.status != 0)
        #expect(again.stderr.hasPrefix("hamrun: error: ") && again.stderr.split(separator: "\n").count == 1)
        let badType = try HamrunProcess.run(["quantize", "--model", base, "--out", out + "-x", "--type", "q4"])
        #expect(badType.status != 0 && badType.stderr.contains("q4"))
    }
}
