import HamCore

/// The fuzz entry point for GGUF input: `data` opened as `--model FILE.gguf` opens a file (the
/// header, the config from its metadata), then every tensor that config calls for fetched and its
/// first and last bytes read. Bad input must come back as the `LoadError` returned here; a crash,
/// a hang or a read outside `data` is the bug a fuzzer or the mutation tests look for.
public func fuzzGGUF(_ data: UnsafeRawBufferPointer) -> LoadError? {
    do {
        let file = try GGUFFile(copying: data, path: "fuzz.gguf")
        let model = try ModelFiles(gguf: file)
        var touched: UInt8 = 0
        for spec in ModelSchema(config: model.config).all {
            let tensor = try model.weights.tensor(spec.name, shape: spec.shape)
            let bytes = tensor.bytes
            if let first = bytes.first, let last = bytes.last { touched ^= first ^ last }
        }
        withExtendedLifetime(touched) {}
        return nil
    } catch let error as LoadError {
        return error
    } catch {
        return .malformed(path: "fuzz.gguf", detail: "unexpected error type: \(error)")
    }
}
