import Foundation
import Testing
@testable import HamConvert
@testable import HamCore
import HamCPU
@testable import HamLoad

@Suite struct SamplerTests {
    let logits: [Float] = (0..<1000).map { Float(sin(Double($0) * 12.9898) * 3) }
    var best: Int32 { Int32(logits.indices.max { logits[$0] < logits[$1] } ?? 0) }

    @Test func aSeedReproducesARun() {
        var a = Sampler(options: SamplingOptions(temperature: 0.8, topK: 40, topP: 0.9, seed: 7))
        var b = Sampler(options: SamplingOptions(temperature: 0.8, topK: 40, topP: 0.9, seed: 7))
        var c = Sampler(options: SamplingOptions(temperature: 0.8, topK: 40, topP: 0.9, seed: 8))
        let runA = (0..<50).map { _ in a.sample(logits) }
        #expect(runA == (0..<50).map { _ in b.sample(logits) })
        #expect(runA != (0..<50).map { _ in c.sample(logits) })
    }

    @Test func topKOneAndTinyTopPAreGreedy() {
        var k = Sampler(options: SamplingOptions(temperature: 1, topK: 1, seed: 1))
        var p = Sampler(options: SamplingOptions(temperature: 1, topP: 1e-6, seed: 1))
        for _ in 0..<20 {
            #expect(k.sample(logits) == best)
            #expect(p.sample(logits) == best)
        }
    }

    @Test func topKKeepsOnlyTheKMostLikely() {
        let top5 = Set(logits.indices.sorted { logits[$0] > logits[$1] }.prefix(5).map(Int32.init))
        var sampler = Sampler(options: SamplingOptions(temperature: 5, topK: 5, seed: 3))
        let drawn = Set((0..<500).map { _ in sampler.sample(logits) })
        #expect(drawn.isSubset(of: top5))
        #expect(drawn.count == 5)
    }

    /// Frequencies follow softmax(logits / T) over three tokens.
    @Test func frequenciesFollowTheDistribution() {
        let three: [Float] = [0, 1, 2]
        let temperature = 0.7
        let weights = three.map { exp(Double($0) / temperature) }
        let total = weights.reduce(0, +)
        for options in [SamplingOptions(temperature: temperature, seed: 11), SamplingOptions(temperature: temperature, topP: 0.999999, seed: 11)] {
            var sampler = Sampler(options: options)
            var counts = [0, 0, 0]
            let n = 30000
            for _ in 0..<n { counts[Int(sampler.sample(three))] += 1 }
            for i in 0..<3 {
                let expected = weights[i] / total
                #expect(abs(Double(counts[i]) / Double(n) - expected) < 0.015, "token \(i): \(counts[i]) of \(n), expected \(expected)")
            }
        }
    }

    /// Top-p keeps the smallest set of most likely tokens reaching p.
    @Test func nucleusIsTheSmallestSufficientSet() {
        let values: [Float] = [3, 2, 1, 0, -1]
        let p = values.map { exp(Double($0)) }, total = p.reduce(0, +)
        // The top two hold (e^3 + e^2) / total ≈ 0.90 of the mass.
        let topTwo = (p[0] + p[1]) / total
        var sampler = Sampler(options: SamplingOptions(temperature: 1, topP: topTwo - 0.01, seed: 5))
        let drawn = Set((0..<2000).map { _ in sampler.sample(values) })
        #expect(drawn == [0, 1])
    }
}
