// swift-tools-version:6.1
import PackageDescription

// Targets follow the data flow (docs/ARCHITECTURE.md): files → HamLoad → weights on a backend
// (HamCPU, HamVulkan) → the model math and engine (HamCore) → front ends (hamrun). Tooling that
// writes models (HamConvert) and the conformance checks (HamChecks) stay out of the runtime.
let package = Package(
    name: "hamrun",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hamrun", targets: ["hamrun"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
        // `hamrun serve`: HTTP, graceful shutdown on signals, metrics in Prometheus text.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0", traits: []),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
    ],
    targets: [
        // OpenBLAS through pkg-config (Debian: libopenblas-dev).
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // Vulkan's headers only (Debian: libvulkan-dev). The loader itself is opened at run time
        // (dlopen), so hamrun runs on machines without libvulkan and says so only when asked
        // for a Vulkan device.
        .systemLibrary(
            name: "CVulkan",
            providers: [.apt(["libvulkan-dev"])]
        ),
        // Dtype codecs, quantizers and the innermost SIMD loops of the CPU backend (products
        // over rows of every weight dtype), compiled for several x86 levels and picked at run
        // time. No implicit fused multiply-adds: decoding must round as gguf-py does.
        .target(
            name: "CHamKernels",
            cSettings: [.unsafeFlags(["-O3", "-fno-math-errno", "-ffp-contract=off"])]
        ),
        // The runtime's core: tensors and dtypes, the backend protocol, the model math, the
        // engine. It knows no file format and no backend.
        .target(
            name: "HamCore",
            dependencies: [
                "CHamKernels",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Opening input files: regular files only (a FIFO would block open() forever).
        .target(name: "HamFiles"),
        // The one JSON reader (bounded, fully validating, lazy strings; typed readers whose
        // errors name the field) and literal-preserving JSON writing.
        .target(name: "HamJSON"),
        // Model files to weights: safetensors directories and config.json, GGUF files.
        .target(name: "HamLoad", dependencies: ["HamCore", "HamFiles", "HamJSON"]),
        // The CPU backend: a thread pool over the SIMD kernels, BLAS sgemm for some prefills.
        .target(name: "HamCPU", dependencies: ["HamCore", "CHamKernels", "CBLAS"]),
        // GLSL compute shaders (Shaders/*.comp) to SPIR-V embedded in generated Swift, at build
        // time, with glslangValidator (Debian: glslang-tools).
        .executableTarget(name: "EmbedShaders", path: "Sources/EmbedShaders"),
        .plugin(name: "CompileShaders", capability: .buildTool(), dependencies: ["EmbedShaders"]),
        // The Vulkan backend: every op as a compute kernel, recorded and submitted at sync points.
        .target(
            name: "HamVulkan",
            dependencies: ["HamCore", "CVulkan"],
            plugins: ["CompileShaders"]
        ),
        // Writing models: the Lightning checkpoint converter (zip, pickle), the quantizer,
        // safetensors writers, random models for benchmarks.
        .target(
            name: "HamConvert",
            dependencies: [
                "HamCore", "HamLoad", "HamJSON", "HamFiles",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]
        ),
        // Backend conformance: a plain reference backend and ggml-style op checks, used by the
        // tests and by `hamrun check` on machines without a Swift toolchain.
        .target(name: "HamChecks", dependencies: ["HamCore", "HamCPU", "HamLoad", "HamJSON"], swiftSettings: [.unsafeFlags(["-O"])]),
        // Hugging Face tokenizer.json (byte-level BPE) and chat formats.
        .target(
            name: "HamTokenizer",
            dependencies: ["HamFiles", "HamJSON"]
        ),
        // The OpenAI-compatible HTTP server on the batched engine (`hamrun serve`): one thread
        // drives the engine, HTTP handlers stream what it produces.
        .target(
            name: "HamServe",
            dependencies: [
                "HamCore", "HamTokenizer", "HamJSON",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "hamrun",
            dependencies: [
                "HamCore", "HamLoad", "HamCPU", "HamConvert", "HamTokenizer", "HamChecks", "HamVulkan",
                "HamFiles", "HamJSON", "HamServe",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // One fuzz entry point per parser of hostile input (Tools/fuzz/run builds it with
        // libFuzzer; a normal build replays seed corpora and found crashes through it).
        .executableTarget(
            name: "hamrun-fuzz",
            dependencies: ["HamCore", "HamFiles", "HamJSON", "HamLoad", "HamConvert", "HamTokenizer"],
            path: "Tools/fuzz/hamrun-fuzz"
        ),
        // Tokenizer speed benchmark, driven by Tools/tokenizer/bench.py.
        .executableTarget(
            name: "tokenizer-bench",
            dependencies: ["HamTokenizer"],
            path: "Tools/tokenizer/bench"
        ),
        // ZIPFoundation writes the damaged and re-packed checkpoints the converter tests read.
        .testTarget(
            name: "HamCoreTests",
            dependencies: ["HamCore", "HamLoad", "HamCPU", "HamConvert", "HamChecks", "HamJSON", "HamFiles",
                           .product(name: "ZIPFoundation", package: "ZIPFoundation")]
        ),
        // The Vulkan backend on whatever device there is (lavapipe in CI) against the CPU backend.
        .testTarget(name: "HamVulkanTests", dependencies: ["HamVulkan", "HamCore", "HamLoad", "HamCPU", "HamConvert", "HamChecks"]),
        .testTarget(name: "HamTokenizerTests", dependencies: ["HamTokenizer", "HamJSON"]),
        .testTarget(name: "HamJSONTests", dependencies: ["HamJSON"]),
        // The server's pure parts (reply text, stop strings); its HTTP side is tested end to end
        // in HamrunTests/ServeTests.
        .testTarget(name: "HamServeTests", dependencies: ["HamServe", "HamTokenizer"]),
        // Runs the built `hamrun` binary: flags, output formats, exit codes, error lines.
        .testTarget(name: "HamrunTests", dependencies: ["hamrun", "hamrun-fuzz", "HamChecks", "HamConvert", "HamTokenizer", "HamJSON"]),
    ]
)
