/// How a `VulkanBackend` is set up.
public struct VulkanOptions: Sendable {
    /// Index in the loader's device list (`hamrun devices`); nil: the preferred device
    /// (discrete, integrated, virtual GPU, then a CPU implementation).
    public var device: Int?
    /// Enable VK_LAYER_KHRONOS_validation (when installed) and collect its messages.
    public var validation: Bool
    /// With `validation`, also check synchronization (missing or wrong barriers).
    public var synchronizationValidation: Bool
    /// Use VK_KHR_push_descriptor when the device has it (else cached descriptor sets).
    public var pushDescriptors: Bool
    public var barrierMode: BarrierMode
    /// Split weights above this many bytes (below the device's binding limit), so tests can
    /// split small weights.
    public var maxWeightPieceBytes: Int?
    /// Invocations per output feature in the streaming product (a power of two up to 128);
    /// nil: 32 on GPUs, 1 on CPU devices (see Shaders/matvec.comp).
    public var matvecThreadsPerRow: Int?

    public init(device: Int? = nil, validation: Bool = false, synchronizationValidation: Bool = false,
                pushDescriptors: Bool = true, barrierMode: BarrierMode = .tracked,
                maxWeightPieceBytes: Int? = nil, matvecThreadsPerRow: Int? = nil) {
        self.device = device
        self.validation = validation
        self.synchronizationValidation = synchronizationValidation
        self.pushDescriptors = pushDescriptors
        self.barrierMode = barrierMode
        self.maxWeightPieceBytes = maxWeightPieceBytes
        self.matvecThreadsPerRow = matvecThreadsPerRow
    }
}
