// The tokenizer library arrives with the tokenizer issue.
public enum HamTokenizerInfo { public static let name = "HamTokenizer" }
