import Foundation

/// Rotary position embedding tables. Frequencies follow Hugging Face's Llama code step by step
/// in float32 (including the llama3 long-context scaling, or a GGUF's factors for it), and
/// angles are `position × frequency` in float32, so the cos/sin rows match the reference bit for bit or within one ulp.
/// Rows are computed on the host for the positions a step needs, which keeps every backend's
/// rotation identical and positions unrelated to KV slots.
public struct RoPE: Sendable {
    public let inverseFrequencies: [Float]

    public init(config: ModelConfig) {
        let dim = config.headDim
        let base = Float(config.ropeTheta)
        var frequencies = (0..<(dim / 2)).map { i -> Float in
            1 / powf(base, Float(2 * i) / Float(dim))
        }
        if let s = config.ropeScaling {
            let factor = Float(s.factor), low = Float(s.lowFreqFactor), high = Float(s.highFreqFactor)
            let oldContext = Float(s.originalMaxPositionEmbeddings)
            let lowFreqWavelength = oldContext / low
            let highFreqWavelength = oldContext / high
            frequencies = frequencies.map { f in
                let wavelength = 2 * Float.pi / f
                let scaled = wavelength > lowFreqWavelength ? f / factor : f
                if wavelength < highFreqWavelength || wavelength > lowFreqWavelength { return scaled }
                let smooth = (oldContext / wavelength - low) / (high - low)
                return (1 - smooth) * scaled / factor + smooth * scaled
            }
        }
        if let factors = config.ropeFrequencyFactors {
            // llama.cpp divides each frequency by its factor (`rope_freqs.weight`); the loader
            // checked that there is one per frequency.
            precondition(factors.count == frequencies.count, "\(factors.count) RoPE frequency factors for \(frequencies.count) frequencies")
            frequencies = zip(frequencies, factors).map { $0 / $1 }
        }
        inverseFrequencies = frequencies
    }

    public var halfDim: Int { inverseFrequencies.count }

    /// Fills `cos` and `sin` (resized to `positions.count × headDim/2`, row-major), one row per
    /// position.
    public func fill(positions: [Int], cos cosines: inout [Float], sin sines: inout [Float]) {
        let size = positions.count * halfDim
        if cosines.count != size { cosines = [Float](repeating: 0, count: size) }
        if sines.count != size { sines = [Float](repeating: 0, count: size) }
        for (row, p) in positions.enumerated() {
            let position = Float(p)
            for i in 0..<halfDim {
                let angle = position * inverseFrequencies[i]
                cosines[row * halfDim + i] = cosf(angle)
                sines[row * halfDim + i] = sinf(angle)
            }
        }
    }
}
