/// A model's weights on one backend, uploaded once: the base model, and the HAMburger modules
/// when asked for. Engines share it (every sequence of every engine reads the same weights).
public struct LoadedModel<B: Backend> {
    public let llama: Llama<B>
    public let hamburger: HAMburger<B>?

    /// `hamburger`: also load the compositional embedder and the micro-step decoder (the config
    /// must describe them).
    public init(config: ModelConfig, source: WeightSource, backend: B, hamburger: Bool) throws {
        let weights = try LlamaWeights(config: config, source: source, backend: backend)
        llama = Llama(config: config, weights: weights, backend: backend)
        self.hamburger = hamburger ? try HAMburger(base: llama, source: source) : nil
    }

    /// An engine over these weights.
    public func engine(_ options: EngineOptions) throws -> Engine<B> {
        try Engine(llama: llama, hamburger: hamburger, options: options)
    }
}
