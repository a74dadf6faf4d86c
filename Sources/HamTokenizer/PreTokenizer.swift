/// How text between special tokens is cut into pieces before the BPE.
enum PreTokenizer: Sendable {
    /// The Llama 3 pattern (Hugging Face's, or llama.cpp's `llama3` and `qwen2` code).
    case llama3(Llama3Splitter)
    /// llama.cpp's GPT-2 pattern, optionally after its digit split.
    case gpt2(GPT2Splitter)
}

/// Anything that tiles text into pieces from left to right.
protocol PieceSplitter {
    /// End (exclusive byte offset) of the piece that starts at `i` (< `n`) of valid UTF-8.
    func pieceEnd(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: Int) -> Int
}

extension Llama3Splitter: PieceSplitter {}
extension GPT2Splitter: PieceSplitter {}

/// A `tokenizer.ggml.pre` that hamrun implements, and what llama.cpp's `llama_vocab::load`
/// attaches to that name: the split, whether a piece that is a whole token skips the merges
/// (`ignore_merges`), and whether BOS is added when `tokenizer.ggml.add_bos_token` is absent.
///
/// The names are llama.cpp's, each behaving exactly as there. Names whose families need more
/// than these three things (other patterns, token attributes set by name, SEP tokens) are
/// refused by name, so a file hamrun cannot tokenize as llama.cpp does never loads.
struct LlamaCppPreTokenizer: Sendable {
    let splitter: PreTokenizer
    let ignoresMerges: Bool
    let addsBOSByDefault: Bool

    private static let llama3 = Llama3Splitter(classes: .llamaCpp, maxDigits: 3, foldsLongS: false)
    private static let qwen2 = Llama3Splitter(classes: .llamaCpp, maxDigits: 1, foldsLongS: false)

    /// llama.cpp's names by family (llama-vocab.cpp, llama-cpp-python 0.3.36).
    static let families: [(names: [String], pre: LlamaCppPreTokenizer)] = [
        // LLAMA_VOCAB_PRE_TYPE_LLAMA3
        (["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"],
         .init(splitter: .llama3(llama3), ignoresMerges: true, addsBOSByDefault: true)),
        // DBRX and SMAUG: the Llama 3 pattern, nothing else.
        (["dbrx", "smaug-bpe"], .init(splitter: .llama3(llama3), ignoresMerges: false, addsBOSByDefault: false)),
        // QWEN2, STABLELM2, HUNYUAN, SOLAR_OPEN: the Llama 3 pattern with single digits.
        (["qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan", "solar-open"],
         .init(splitter: .llama3(qwen2), ignoresMerges: false, addsBOSByDefault: false)),
        // GPT2, MPT, OLMO, JAIS, TRILLION, GRANITE_DOCLING
        (["gpt-2", "phi-2", "gigachat", "a.x-4.0", "mellum", "exaone4", "mpt", "olmo", "jais", "trillion", "granite-docling"],
         .init(splitter: .gpt2(GPT2Splitter(isolatesDigits: false)), ignoresMerges: false, addsBOSByDefault: false)),
        // STARCODER, REFACT, COMMAND_R, SMOLLM, CODESHELL, EXAONE, MINERVA, MELLUM2: `\p{N}`, then GPT-2.
        (["smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b", "mellum2"],
         .init(splitter: .gpt2(GPT2Splitter(isolatesDigits: true)), ignoresMerges: false, addsBOSByDefault: false)),
    ]

    static func named(_ name: String) -> LlamaCppPreTokenizer? {
        families.first { $0.names.contains(name) }?.pre
    }

    /// One name per family, for messages.
    static let familyNames = ["llama-bpe", "dbrx", "qwen2", "gpt-2", "smollm"]
}
