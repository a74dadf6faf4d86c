import ArgumentParser
import Foundation
import HamCore

/// How the KV cache is kept: shared by every command that generates.
struct EngineFlags: ParsableArguments {
    @Option(name: .customLong("kv-type"), help: "KV-cache element type: f32 (exact, the default) or f16 (half the memory).")
    var kvType: KVType = .f32

    @Option(name: .customLong("kv-budget"), help: "Bytes of KV cache for all sequences (suffixes K, M, G). Default: what the requests need.")
    var kvBudget: ByteCount?

    enum KVType: String, ExpressibleByArgument, CaseIterable {
        case f32, f16
        var dtype: DType { self == .f32 ? .f32 : .f16 }
    }

    /// Engine options for `sequences` sequences of at most `slots` context slots each (unless
    /// `--kv-budget` says otherwise).
    func options(_ config: ModelConfig, sequences: Int, slots: Int) -> EngineOptions {
        let perSlot = EngineOptions.kvBytesPerSlot(config, dtype: kvType.dtype)
        let blockSize = 16
        let perSequence = (min(slots, config.maxPositionEmbeddings) + blockSize - 1) / blockSize * blockSize
        return EngineOptions(maxSequences: sequences, kvBudgetBytes: kvBudget?.bytes ?? sequences * perSequence * perSlot,
                             kvBlockSize: blockSize, kvDType: kvType.dtype)
    }
}

/// `123`, `64K`, `512M`, `2G` (binary multiples).
struct ByteCount: ExpressibleByArgument {
    let bytes: Int

    init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Int)] = [("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10), ("", 1)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            let digits = text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
            guard let value = Int(digits), value > 0, value <= Int.max / scale else { return nil }
            bytes = value * scale
            return
        }
        return nil
    }
}
