import Foundation

/// How tokens are chosen. Temperature 0 is greedy (argmax, computed on the backend); otherwise
/// every token — micro-step tokens included — is drawn from softmax(logits / temperature)
/// restricted to the `topK` most likely tokens and to the smallest set whose probability
/// reaches `topP`.
public struct SamplingOptions: Sendable, Equatable {
    public var temperature: Double = 0
    public var topK: Int = 0
    public var topP: Double = 1
    public var seed: UInt64 = 0

    public init(temperature: Double = 0, topK: Int = 0, topP: Double = 1, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
    }

    public var isGreedy: Bool { temperature == 0 }

    public func validate() throws {
        guard temperature >= 0, temperature.isFinite else {
            throw GenerationError.invalidSampling("--temperature is \(temperature); expected a number >= 0")
        }
        guard topK >= 0 else { throw GenerationError.invalidSampling("--top-k is \(topK); expected a number >= 0 (0: off)") }
        guard topP > 0, topP <= 1 else { throw GenerationError.invalidSampling("--top-p is \(topP); expected a value in (0, 1]") }
    }
}

/// Draws tokens from logits on the host with a seeded generator, so a seed reproduces a run.
/// A vocabulary of 128k tokens is never sorted whole: only the candidates that can be in the
/// top-k or in the nucleus are.
public struct Sampler {
    public let options: SamplingOptions
    private var state: UInt64
    private var candidates: [(index: Int32, weight: Double)] = []

    public init(options: SamplingOptions) {
        self.options = options
        state = options.seed &+ 0x9E37_79B9_7F4A_7C15
    }

    /// SplitMix64: small, fast and good enough to pick tokens.
    private mutating func nextUniform() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53)
    }

    public mutating func sample(_ logits: [Float]) -> Int32 {
        guard !logits.isEmpty else { return 0 }
        let inverseTemperature = 1 / options.temperature
        let maximum = Double(logits.max() ?? 0)
        // Unnormalized probabilities relative to the most likely token (which has weight 1).
        var total = 0.0
        for value in logits { total += exp((Double(value) - maximum) * inverseTemperature) }
        if options.topK == 0 && options.topP >= 1 {
            // Plain temperature sampling needs no ordering at all.
            var target = nextUniform() * total
            for (i, value) in logits.enumerated() {
                target -= exp((Double(value) - maximum) * inverseTemperature)
                if target < 0 { return Int32(i) }
            }
            return Int32(logits.count - 1)
        }

        // The candidates: tokens whose probability is at least `cutoff` of the top one. If they
        // hold the top-k, or at least top-p of the mass, the answer lies among them (they are
        // exactly the most likely tokens); otherwise lower the cutoff and look again.
        var cutoff = 1e-4
        while true {
            candidates.removeAll(keepingCapacity: true)
            var mass = 0.0
            for (i, value) in logits.enumerated() {
                let weight = exp((Double(value) - maximum) * inverseTemperature)
                if weight >= cutoff {
                    candidates.append((Int32(i), weight))
                    mass += weight
                }
            }
            let enoughForTopK = options.topK > 0 && candidates.count >= options.topK
            let enoughForTopP = options.topK == 0 && mass >= options.topP * total
            if enoughForTopK || enoughForTopP || cutoff == 0 { break }
            cutoff = cutoff > 1e-30 ? cutoff * 1e-6 : 0
        }
        candidates.sort { $0.weight > $1.weight || ($0.weight == $1.weight && $0.index < $1.index) }
        if options.topK > 0 && options.topK < candidates.count {
            candidates.removeSubrange(options.topK...)
        }
        var kept = candidates.count
        if options.topP < 1 {
            // The smallest prefix whose probability reaches top-p, of what top-k left.
            let keptTotal = options.topK > 0 ? candidates.reduce(0) { $0 + $1.weight } : total
            var mass = 0.0
            kept = 0
            while kept < candidates.count {
                mass += candidates[kept].weight
                kept += 1
                if mass >= options.topP * keptTotal { break }
            }
        }
        let keptMass = candidates[0..<kept].reduce(0) { $0 + $1.weight }
        var target = nextUniform() * keptMass
        for candidate in candidates[0..<kept] {
            target -= candidate.weight
            if target < 0 { return candidate.index }
        }
        return candidates[kept - 1].index
    }
}
