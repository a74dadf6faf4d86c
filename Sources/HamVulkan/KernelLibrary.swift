import CVulkan

/// A compute pipeline ready to bind: one kernel with its specialization constants.
struct Pipeline {
    let kernel: Kernel
    let handle: VkPipeline
    let layout: VkPipelineLayout
    let setLayout: VkDescriptorSetLayout
}

/// Shader modules, layouts and pipelines, made on first use and kept: a kernel's pipelines
/// differ only in specialization constants (the dtypes of weights, the elementwise op), which
/// lets the driver compile each weight dtype's inner loop without branches. A VkPipelineCache
/// shares the driver's work between them.
final class KernelLibrary {
    private struct Key: Hashable {
        let kernel: Kernel
        let constant0: Int32
        let constant1: Int32
        let constant2: Int32
    }

    private let context: VulkanContext
    private let cache: VkPipelineCache
    private var modules: [Kernel: VkShaderModule] = [:]
    private var layouts: [Kernel: (set: VkDescriptorSetLayout, pipeline: VkPipelineLayout)] = [:]
    private var pipelines: [Key: Pipeline] = [:]
    private var interfaces: [Kernel: SPIRV.Interface] = [:]

    init(context: VulkanContext) throws {
        self.context = context
        var info = VkPipelineCacheCreateInfo()
        info.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO
        var cache: VkPipelineCache?
        try check(context.functions.createPipelineCache(context.device, &info, nil, &cache), "vkCreatePipelineCache")
        guard let cache else { throw VulkanError.call(function: "vkCreatePipelineCache", result: VK_ERROR_UNKNOWN.rawValue) }
        self.cache = cache
    }

    /// Destroys everything; the device must be idle.
    func destroy() {
        let f = context.functions, device = context.device
        for pipeline in pipelines.values { f.destroyPipeline(device, pipeline.handle, nil) }
        for layout in layouts.values {
            f.destroyPipelineLayout(device, layout.pipeline, nil)
            f.destroyDescriptorSetLayout(device, layout.set, nil)
        }
        for module in modules.values { f.destroyShaderModule(device, module, nil) }
        f.destroyPipelineCache(device, cache, nil)
        pipelines = [:]
        layouts = [:]
        modules = [:]
    }

    var pipelineCount: Int { pipelines.count }

    /// The kernel's bindings and push-constant size, as its shader declares them.
    func interface(_ kernel: Kernel) throws -> SPIRV.Interface {
        if let known = interfaces[kernel] { return known }
        let interface = try kernel.spirv.interface()
        interfaces[kernel] = interface
        return interface
    }

    /// The pipeline of `kernel` with specialization constants 0, 1 and 2 (each shader declares
    /// those it uses; Vulkan ignores the others).
    func pipeline(_ kernel: Kernel, _ constant0: Int32 = 0, _ constant1: Int32 = 0, _ constant2: Int32 = 0) throws -> Pipeline {
        let key = Key(kernel: kernel, constant0: constant0, constant1: constant1, constant2: constant2)
        if let pipeline = pipelines[key] { return pipeline }
        let module = try shaderModule(kernel)
        let layout = try layouts(kernel)
        var constants = (constant0, constant1, constant2)
        let entries = [
            VkSpecializationMapEntry(constantID: 0, offset: 0, size: 4),
            VkSpecializationMapEntry(constantID: 1, offset: 4, size: 4),
            VkSpecializationMapEntry(constantID: 2, offset: 8, size: 4),
        ]
        var created: VkPipeline?
        let result = withUnsafeBytes(of: &constants) { constantBytes in
            entries.withUnsafeBufferPointer { entryPointer in
                "main".withCString { entryName in
                    var specialization = VkSpecializationInfo()
                    specialization.mapEntryCount = 3
                    specialization.pMapEntries = entryPointer.baseAddress
                    specialization.dataSize = 12
                    specialization.pData = constantBytes.baseAddress
                    return withUnsafePointer(to: &specialization) { specializationPointer in
                        var stage = VkPipelineShaderStageCreateInfo()
                        stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO
                        stage.stage = VK_SHADER_STAGE_COMPUTE_BIT
                        stage.module = module
                        stage.pName = entryName
                        stage.pSpecializationInfo = specializationPointer
                        var info = VkComputePipelineCreateInfo()
                        info.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO
                        info.stage = stage
                        info.layout = layout.pipeline
                        return context.functions.createComputePipelines(context.device, cache, 1, &info, nil, &created)
                    }
                }
            }
        }
        try check(result, "vkCreateComputePipelines (\(kernel))", device: context.info.summary)
        guard let created else { throw VulkanError.call(function: "vkCreateComputePipelines", result: VK_ERROR_UNKNOWN.rawValue) }
        let pipeline = Pipeline(kernel: kernel, handle: created, layout: layout.pipeline, setLayout: layout.set)
        pipelines[key] = pipeline
        return pipeline
    }

    private func shaderModule(_ kernel: Kernel) throws -> VkShaderModule {
        if let module = modules[kernel] { return module }
        let words = try kernel.spirv.words()
        var module: VkShaderModule?
        let result = words.withUnsafeBufferPointer { code in
            var info = VkShaderModuleCreateInfo()
            info.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO
            info.codeSize = code.count * 4
            info.pCode = code.baseAddress
            return context.functions.createShaderModule(context.device, &info, nil, &module)
        }
        try check(result, "vkCreateShaderModule (\(kernel))")
        guard let module else { throw VulkanError.invalidShader(kernel.spirv.name) }
        modules[kernel] = module
        return module
    }

    /// Every binding is a storage buffer; with push descriptors the set is pushed per dispatch.
    private func layouts(_ kernel: Kernel) throws -> (set: VkDescriptorSetLayout, pipeline: VkPipelineLayout) {
        if let layout = layouts[kernel] { return layout }
        let interface = try self.interface(kernel)
        let bindings = (0..<interface.bindings).map { index -> VkDescriptorSetLayoutBinding in
            var binding = VkDescriptorSetLayoutBinding()
            binding.binding = UInt32(index)
            binding.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
            binding.descriptorCount = 1
            binding.stageFlags = VkShaderStageFlags(VK_SHADER_STAGE_COMPUTE_BIT.rawValue)
            return binding
        }
        var setLayout: VkDescriptorSetLayout?
        let setResult = bindings.withUnsafeBufferPointer { pointer in
            var info = VkDescriptorSetLayoutCreateInfo()
            info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO
            if context.usesPushDescriptors {
                info.flags = VkDescriptorSetLayoutCreateFlags(VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR.rawValue)
            }
            info.bindingCount = UInt32(pointer.count)
            info.pBindings = pointer.baseAddress
            return context.functions.createDescriptorSetLayout(context.device, &info, nil, &setLayout)
        }
        try check(setResult, "vkCreateDescriptorSetLayout")
        guard let setLayout else { throw VulkanError.call(function: "vkCreateDescriptorSetLayout", result: VK_ERROR_UNKNOWN.rawValue) }

        var range = VkPushConstantRange()
        range.stageFlags = VkShaderStageFlags(VK_SHADER_STAGE_COMPUTE_BIT.rawValue)
        range.offset = 0
        range.size = UInt32(interface.pushConstantBytes)
        var pipelineLayout: VkPipelineLayout?
        var setLayouts: VkDescriptorSetLayout? = setLayout
        let layoutResult = withUnsafePointer(to: &setLayouts) { setPointer in
            withUnsafePointer(to: &range) { rangePointer in
                var info = VkPipelineLayoutCreateInfo()
                info.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO
                info.setLayoutCount = 1
                info.pSetLayouts = setPointer
                info.pushConstantRangeCount = 1
                info.pPushConstantRanges = rangePointer
                return context.functions.createPipelineLayout(context.device, &info, nil, &pipelineLayout)
            }
        }
        guard layoutResult == VK_SUCCESS, let pipelineLayout else {
            context.functions.destroyDescriptorSetLayout(context.device, setLayout, nil)
            try check(layoutResult, "vkCreatePipelineLayout")
            throw VulkanError.call(function: "vkCreatePipelineLayout", result: VK_ERROR_UNKNOWN.rawValue)
        }
        layouts[kernel] = (setLayout, pipelineLayout)
        return (setLayout, pipelineLayout)
    }
}
