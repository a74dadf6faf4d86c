import HamCore
import HamLoad

extension ModelFiles {
    /// An engine over this directory's weights on `backend` (tests and checks): the HAMburger
    /// modules when the model has them, an f32 KV cache (the reference fixtures' arithmetic)
    /// holding `sequences` sequences of `slots` slots.
    /// `config` replaces the model's own (tests that break it on purpose).
    public func engine<B: Backend>(on backend: B, hamburger: Bool? = nil, sequences: Int = 1, slots: Int = 1024,
                                   kvDType: DType = .f32, prefillTokensPerTick: Int = 256, prefixCaching: Bool = false,
                                   config: ModelConfig? = nil) throws -> Engine<B> {
        let config = config ?? self.config
        let perSlot = EngineOptions.kvBytesPerSlot(config, dtype: kvDType)
        let options = EngineOptions(maxSequences: sequences, prefillTokensPerTick: prefillTokensPerTick,
                                    kvBudgetBytes: sequences * (slots + 16) * perSlot, kvDType: kvDType,
                                    prefixCaching: prefixCaching)
        return try LoadedModel(config: config, source: weights, backend: backend, hamburger: hamburger ?? isHAMburger).engine(options)
    }
}
