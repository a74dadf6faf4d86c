/// Runs many sequences at once, one batched step ("tick") at a time: every tick advances every
/// running sequence by one unit of work — a chunk of its prompt, a base forward that feeds its
/// previous macro step (merged) and yields micro step 0, or its next micro step — so that each
/// weight is streamed once per tick for all of them:
///
/// - every base row of the tick (prompt chunks, merged steps, plain tokens) goes through the base
///   model together, each attending over its own sequence's blocks of the paged KV cache;
/// - every micro-step row (micro step 1's features and first token, later steps' single tokens)
///   goes through the micro-step decoder together;
/// - `lm_head`, which the base output and the micro steps share, runs once over all their rows,
///   and so does the stop head;
/// - the tokens and stop probabilities of all sequences come back in one read.
///
/// Sequences join and leave between ticks. Policy (`Scheduler`) is apart from mechanism: this
/// type builds the tick's row tables, enqueues the model and applies what comes back.
public final class Engine<B: Backend>: InferenceEngine {
    public typealias T = Tensor<B.Buffer>

    public let llama: Llama<B>
    public let hamburger: HAMburger<B>?
    public let options: EngineOptions
    public let pool: KVBlockPool<B>
    let workspace: Workspace<B>
    let scheduler: Scheduler

    private var running: [SequenceState] = []
    private var waiting: [SequenceState] = []
    private var kept: [SequenceID: SequenceState] = [:]
    private var prefixCache: PrefixCache
    private var cancelled: Set<SequenceID> = []
    private var freeMicro: [Int]
    private var nextID = 0
    private let start = ContinuousClock.now
    /// RoPE angles of the micro-step decoder's positions `0 ..< microBlockSize`.
    private var microAngles: (cos: [Float], sin: [Float]) = ([], [])

    public init(llama: Llama<B>, hamburger: HAMburger<B>?, options: EngineOptions) throws {
        self.llama = llama
        self.hamburger = hamburger
        self.options = options
        let c = llama.config
        pool = try KVBlockPool(config: c, budgetBytes: options.kvBudgetBytes, blockSize: options.kvBlockSize,
                               dtype: options.kvDType, backend: llama.backend)
        workspace = try Workspace(config: c, hamburger: hamburger?.config, options: options,
                                  blockCount: pool.blockCount, backend: llama.backend)
        scheduler = Scheduler(prefillTokensPerTick: options.prefillTokensPerTick, maxSequences: options.maxSequences)
        prefixCache = PrefixCache(blockSize: options.kvBlockSize)
        freeMicro = hamburger == nil ? [] : Array((0..<options.maxSequences).reversed())
        if workspace.microBlockSize > 0 {
            var cosines: [Float] = [], sines: [Float] = []
            llama.rope.fill(positions: Array(0..<workspace.microBlockSize), cos: &cosines, sin: &sines)
            microAngles = (cosines, sines)
        }
        log.info("engine on \(llama.backend.name): \(options.maxSequences) sequences, KV cache \(pool.blockCount) blocks of \(pool.blockSize) slots (\(pool.budgetBytes >> 20) MiB, \(options.kvDType.rawValue)), \(llama.weights.bytesPerForward >> 20) MiB of weights per base forward\(hamburger.map { ", \($0.bytesPerMicroStep >> 20) MiB per micro step" } ?? "")")
    }

    var backend: B { llama.backend }
    private var now: Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }

    // MARK: Joining and leaving

    public func submit(_ request: GenerationRequest) throws -> SequenceID {
        try validate(request)
        var state: SequenceState
        if let id = request.continuing {
            guard var previous = kept.removeValue(forKey: id) else { throw GenerationError.unknownSequence }
            previous.options = request.options
            previous.sampler = request.options.sampling.isGreedy ? nil : Sampler(options: request.options.sampling)
            state = SequenceState(id: id, request: request)
            state.blocks = previous.blocks
            state.slots = previous.slots
            state.position = previous.position
            state.pendingStep = previous.pendingStep
            state.pendingMerged = previous.pendingMerged
        } else {
            state = SequenceState(id: SequenceID(nextID), request: request)
            nextID += 1
        }
        let fed = state.pendingStep.isEmpty ? 0 : (state.pendingMerged ? state.pendingStep.count : state.pendingStep.count)
        let limit = llama.config.maxPositionEmbeddings
        guard state.position + fed + request.prompt.count <= limit else {
            if request.continuing != nil { kept[state.id] = state }
            throw GenerationError.promptTooLong(tokens: state.position + fed + request.prompt.count, limit: limit)
        }
        let held = kept.values.reduce(0) { $0 + $1.blocks.count }
        guard reservation(state) <= pool.blockCount - held else {
            if request.continuing != nil { kept[state.id] = state }
            throw GenerationError.kvBudgetTooSmall(neededBytes: reservation(state) * pool.bytesPerBlock,
                                                   budgetBytes: (pool.blockCount - held) * pool.bytesPerBlock)
        }
        state.submitted = now
        waiting.append(state)
        return state.id
    }

    /// Stops a sequence before the next tick (queued or running): its memory is freed then and it
    /// finishes with `.cancelled` and what it had generated.
    public func cancel(_ id: SequenceID) {
        cancelled.insert(id)
    }

    /// Frees the context a finished sequence kept.
    public func release(_ id: SequenceID) {
        if let state = kept.removeValue(forKey: id) { pool.give(back: state.blocks) }
    }

    public var hasWork: Bool { !running.isEmpty || !waiting.isEmpty || !cancelled.isEmpty }
    public var runningCount: Int { running.count }
    public var waitingCount: Int { waiting.count }
    public var kvBytesInUse: Int { (pool.usedBlocks - prefixCache.blockCount) * pool.bytesPerBlock }
    public var kvBytesCached: Int { prefixCache.blockCount * pool.bytesPerBlock }
    public var kvBudgetBytes: Int { pool.budgetBytes }
    public var config: ModelConfig { llama.config }
    public var isHAMburger: Bool { hamburger != nil }
    public var backendName: String { backend.name }
    public var weightBytes: WeightBytes {
        WeightBytes(basePerForward: llama.weights.bytesPerForward, perMicroStep: hamburger?.bytesPerMicroStep ?? 0,
                    stopHead: hamburger?.stopHeadBytes ?? 0, merger: hamburger?.mergerBytes ?? 0)
    }

    private func validate(_ request: GenerationRequest) throws {
        let o = request.options
        guard !request.prompt.isEmpty else { throw GenerationError.emptyPrompt }
        let vocabulary = llama.config.vocabSize
        if let bad = request.prompt.first(where: { $0 < 0 || Int($0) >= vocabulary }) {
            throw GenerationError.tokenOutOfVocabulary(id: Int(bad), vocabularySize: vocabulary)
        }
        guard o.maxTokens > 0 else { throw GenerationError.invalidMaxTokens(o.maxTokens) }
        switch o.stepRule {
        case .stopHead(let c):
            guard c >= 0, c <= 1 else { throw GenerationError.invalidConfidence(c) }
        case .fixedLength(let k):
            let limit = hamburger?.config.maxSteps ?? 1
            guard (1...limit).contains(k) else {
                throw GenerationError.invalidSampling("--force-steps is \(k); expected 1 to max_steps (\(limit))")
            }
        }
        try o.sampling.validate()
        if o.mode == .hamburger && hamburger == nil { throw GenerationError.notHAMburger(path: "this model") }
    }

    // MARK: One tick

    public func step() throws -> [EngineEvent] {
        var events: [EngineEvent] = []
        applyCancellations(&events)
        admit()
        guard !running.isEmpty else { return events }
        let tickStart = now
        for i in running.indices where running[i].started == nil {
            running[i].started = tickStart
            running[i].result.stats.queueSeconds = tickStart - running[i].submitted
        }

        // The plan: rows for the base model and for the micro-step decoder.
        var plan = scheduler.plan(running, limit: llama.config.maxPositionEmbeddings,
                                  maxSteps: hamburger?.config.maxSteps ?? 1)
        for index in plan.contextFull {
            finish(index, reason: .contextFull, &events)
        }
        // KV blocks for the base rows. Admission reserved every sequence's worst case, so there
        // are always enough; were there not, the sequence would stop with a clear error.
        var refused: [Int] = []
        plan.base.removeAll { work in
            let s = running[work.sequence]
            let need = pool.blocks(for: s.slots + work.rows.count) - s.blocks.count
            guard need > 0 else { return false }
            guard let blocks = pool.take(need) else {
                refused.append(work.sequence)
                return true
            }
            running[work.sequence].blocks += blocks
            return false
        }
        for index in refused { fail(index, .kvBudgetExhausted(budgetBytes: pool.budgetBytes), &events) }
        if plan.base.isEmpty && plan.micro.isEmpty {
            removeFinished()
            return events
        }

        let outputs = try run(plan)
        apply(plan, outputs, &events)
        removeFinished()
        return events
    }

    private func applyCancellations(_ events: inout [EngineEvent]) {
        guard !cancelled.isEmpty else { return }
        for id in cancelled {
            if let i = waiting.firstIndex(where: { $0.id == id }) {
                var state = waiting.remove(at: i)
                state.result.finishReason = .cancelled
                pool.give(back: state.blocks)
                events.append(.finished(id, state.result))
            } else if let i = running.firstIndex(where: { $0.id == id }) {
                finish(i, reason: .cancelled, &events)
            }
        }
        cancelled = []
        removeFinished()
    }

    /// Queued sequences join while there is room: a free sequence slot (and micro-step cache for
    /// HAMburger) and KV blocks for the worst case of every running sequence and the new one. A
    /// sequence that might outgrow the budget waits instead of joining, so the budget never runs
    /// out mid-generation and nothing running has to be evicted. The prefix cache lives in what is
    /// left: a joining sequence first takes over the entry its prompt begins with, then the oldest
    /// entries make room for it.
    private func admit() {
        var reserved = running.reduce(0) { $0 + reservation($1) }
        let available = pool.blockCount - kept.values.reduce(0) { $0 + $1.blocks.count }
        while !waiting.isEmpty && running.count < options.maxSequences {
            var state = waiting[0]
            if options.prefixCaching && state.fresh && !state.prefixLookedUp {
                state.prefixLookedUp = true
                // At least the last prompt token is fed: its row gives the first token's logits.
                if let hit = prefixCache.take(prefixOf: state.prompt, limit: state.prompt.count - 1) {
                    pool.give(back: hit.freed)
                    state.blocks = hit.blocks
                    state.slots = hit.tokens
                    state.position = hit.tokens
                    state.promptFed = hit.tokens
                    state.result.stats.cachedPromptTokens = hit.tokens
                    log.debug("sequence \(state.id): \(hit.tokens) prompt tokens from the prefix cache")
                }
                waiting[0] = state
            }
            // Blocks a queued sequence holds (a kept context's, a cache hit's) are its own.
            let heldBehind = waiting.dropFirst().reduce(0) { $0 + $1.blocks.count }
            let need = reservation(state)
            func fits() -> Bool { reserved + need <= available - heldBehind - prefixCache.blockCount }
            while !fits(), let freed = prefixCache.evictOldest() { pool.give(back: freed) }
            guard fits() else { break }
            if state.isHAMburger {
                guard let micro = freeMicro.popLast() else { break }
                state.microIndex = micro
            }
            waiting.removeFirst()
            state.phase = .prefill
            running.append(state)
            reserved += need
        }
    }

    /// KV blocks a sequence may still need, at most: one slot for every input not yet fed, and
    /// one for every token it may still generate (HAMburger uses fewer; this bound shrinks as its
    /// macro steps hold several tokens), and never more than the context holds.
    private func reservation(_ s: SequenceState) -> Int {
        let pending = s.pendingMerged ? (s.pendingStep.isEmpty ? 0 : 1) : s.pendingStep.count
        let future = pending + s.promptLeft + s.step.count + (s.options.maxTokens - s.result.tokens.count)
        return max(s.blocks.count, pool.blocks(for: min(s.slots + future, llama.config.maxPositionEmbeddings)))
    }

    // MARK: Running the model

    /// Which rows of the tick's outputs belong to whom, and what was read back.
    struct TickOutputs {
        var tokens: [Int32]
        var stopProbabilities: [Float]
        /// Logits of the rows whose sequences sample or trace.
        var logits: [Int: [Float]]
    }

    /// Builds the tick's tables, enqueues the base model, the compositional embedder, the
    /// micro-step decoder and the heads, and reads the results once.
    private func run(_ plan: Scheduler.Plan) throws -> TickOutputs {
        let w = workspace, c = llama.config, bs = pool.blockSize
        let half = c.headDim / 2

        // Base rows in the order [no output wanted][base-mode outputs][HAMburger outputs].
        var ordered: [(work: Int, row: Int)] = []
        for group in 0..<3 {
            for (wi, work) in plan.base.enumerated() {
                let mode = running[work.sequence].isHAMburger ? 2 : 1
                for ri in work.rows.indices {
                    let wantsOutput = work.producesToken && ri == work.rows.count - 1
                    if (wantsOutput ? mode : 0) == group { ordered.append((wi, ri)) }
                }
            }
        }
        let n = ordered.count
        let baseOutputs = plan.base.filter { $0.producesToken && !running[$0.sequence].isHAMburger }.count
        let hamOutputs = plan.base.filter { $0.producesToken && running[$0.sequence].isHAMburger }.count
        var tokenIds = [Int32](repeating: 0, count: n), slotRows = [Int32](repeating: 0, count: n)
        var attentionRows = [Int32](repeating: 0, count: 2 * n), positions = [Int](repeating: 0, count: n)
        var blockTable: [Int32] = [], blockOffset: [Int: Int] = [:]
        var merges: [(row: Int, tokens: [Int32])] = []
        var featureRows: [Int] = []
        for (r, (wi, ri)) in ordered.enumerated() {
            let work = plan.base[wi], s = running[work.sequence], row = work.rows[ri]
            if blockOffset[work.sequence] == nil {
                blockOffset[work.sequence] = blockTable.count
                blockTable += s.blocks
            }
            switch row.input {
            case .token(let t): tokenIds[r] = t
            case .merged(let tokens): merges.append((r, tokens))
            }
            positions[r] = row.position
            slotRows[r] = s.blocks[row.slot / bs] * Int32(bs) + Int32(row.slot % bs)
            attentionRows[2 * r] = Int32(row.slot + 1)
            attentionRows[2 * r + 1] = Int32(blockOffset[work.sequence] ?? 0)
            if r >= n - hamOutputs, let micro = s.microIndex { featureRows.append(micro) }
        }

        // Micro rows in the order [micro step 1's features][every micro step's token].
        let nf = hamburger?.config.featureLayers.count ?? 0
        let firstSteps = plan.micro.filter { $0.step == 1 }
        let featureCount = firstSteps.count * nf, microTokens = plan.micro.count
        let microRows = featureCount + microTokens

        if n > 0 {
            backend.writeTokens(tokenIds, to: w.tokenIds.rows(0..<n))
            backend.embed(table: llama.weights.embedding, ids: w.tokenIds.rows(0..<n), out: w.x.rows(0..<n))
            if let hamburger, let m = w.merge, let scratch = w.mergeScratch, !merges.isEmpty {
                let steps = hamburger.config.maxSteps, count = merges.count
                var tokens = [Int32](repeating: 0, count: count * steps), segments: [Int32] = [], rows: [Int32] = []
                for (j, merge) in merges.enumerated() {
                    for (k, t) in merge.tokens.enumerated() { tokens[j * steps + k] = t }
                    segments += [Int32(j * steps), Int32(merge.tokens.count)]
                    rows += [Int32(merge.tokens.count), Int32(j)]
                }
                backend.writeTokens(tokens, to: m.tokens.rows(0..<(count * steps)))
                backend.writeTokens(segments, to: m.segments.rows(0..<count))
                backend.writeTokens(rows, to: m.attentionRows.rows(0..<count))
                backend.writeTokens(merges.map { Int32($0.row) }, to: m.targets.rows(0..<count))
                let inputs = MergeInputs<B>(tokens: m.tokens.rows(0..<(count * steps)), positions: m.positions.rows(0..<(count * steps)),
                                         segments: m.segments.rows(0..<count),
                                         attention: AttentionLayout(rows: m.attentionRows.rows(0..<count), blocks: m.blocks, blockSize: steps))
                hamburger.smash(inputs, scratch: scratch, out: m.out.rows(0..<count))
                backend.scatterRows(m.out.rows(0..<count), indices: m.targets.rows(0..<count), into: w.x)
            }
            var cosines: [Float] = [], sines: [Float] = []
            llama.rope.fill(positions: positions, cos: &cosines, sin: &sines)
            backend.write(cosines, to: w.cos.rows(0..<n))
            backend.write(sines, to: w.sin.rows(0..<n))
            backend.writeTokens(slotRows, to: w.slots.rows(0..<n))
            backend.writeTokens(attentionRows, to: w.attentionRows.rows(0..<n))
            backend.writeTokens(blockTable, to: w.blockTable.rows(0..<blockTable.count))
            var features: FeatureCapture<B>?
            if let hamburger, let featurePool = w.featurePool, hamOutputs > 0 {
                for (j, target) in w.featureTargets.enumerated() {
                    backend.writeTokens(featureRows.map { Int32($0 * nf + j) }, to: target.rows(0..<hamOutputs))
                }
                features = FeatureCapture(layers: hamburger.config.featureLayers, rows: hamOutputs,
                                          targets: w.featureTargets.map { $0.rows(0..<hamOutputs) }, pool: featurePool)
            }
            let layout = RowLayout<B>(cos: w.cos.rows(0..<n), sin: w.sin.rows(0..<n), slots: w.slots.rows(0..<n),
                                      attention: AttentionLayout(rows: w.attentionRows.rows(0..<n), blocks: w.blockTable, blockSize: bs))
            llama.forward(w.x.rows(0..<n), rows: layout, cache: pool.cache, scratch: w.scratch,
                          outputs: baseOutputs + hamOutputs, normed: w.outputs.rows(0..<(baseOutputs + hamOutputs)), features: features)
        }

        let microStart = baseOutputs + hamOutputs
        if let hamburger, microRows > 0, let x = w.microX, let featureIds = w.microFeatureIds, let tokenIds = w.microTokenIds,
           let slots = w.microSlots, let attention = w.microAttentionRows, let blocks = w.microBlocks,
           let cosTable = w.microCos, let sinTable = w.microSin, let cache = w.microCache, let featurePool = w.featurePool {
            var ids: [Int32] = [], tokens: [Int32] = [], slotRows: [Int32] = [], rows: [Int32] = []
            var cosines: [Float] = [], sines: [Float] = []
            // Every micro row attends causally, micro step 1's features and first token included.
            func addRow(micro: Int, position: Int) {
                slotRows.append(Int32(micro * w.microBlockSize + position))
                rows += [Int32(position + 1), Int32(micro)]
                cosines += microAngles.cos[(position * half)..<((position + 1) * half)]
                sines += microAngles.sin[(position * half)..<((position + 1) * half)]
            }
            for work in firstSteps {
                let micro = running[work.sequence].microIndex ?? 0
                for f in 0..<nf {
                    ids.append(Int32(micro * nf + f))
                    addRow(micro: micro, position: f)
                }
            }
            for work in plan.micro {
                let s = running[work.sequence], micro = s.microIndex ?? 0
                tokens.append(s.step[work.step - 1])
                addRow(micro: micro, position: nf + work.step - 1)
            }
            if featureCount > 0 {
                backend.writeTokens(ids, to: featureIds.rows(0..<featureCount))
                backend.embed(table: featurePool, ids: featureIds.rows(0..<featureCount), out: x.rows(0..<featureCount))
            }
            backend.writeTokens(tokens, to: tokenIds.rows(0..<microTokens))
            backend.embed(table: llama.weights.embedding, ids: tokenIds.rows(0..<microTokens), out: x.rows(featureCount..<microRows))
            backend.write(cosines, to: cosTable.rows(0..<microRows))
            backend.write(sines, to: sinTable.rows(0..<microRows))
            backend.writeTokens(slotRows, to: slots.rows(0..<microRows))
            backend.writeTokens(rows, to: attention.rows(0..<microRows))
            let layout = RowLayout<B>(cos: cosTable.rows(0..<microRows), sin: sinTable.rows(0..<microRows), slots: slots.rows(0..<microRows),
                                      attention: AttentionLayout(rows: attention.rows(0..<microRows), blocks: blocks, blockSize: w.microBlockSize))
            hamburger.microDecoder(x.rows(0..<microRows), rows: layout, cache: cache, scratch: w.scratch, outputs: microTokens)
            backend.copy(x.rows(featureCount..<microRows), to: w.outputs.rows(microStart..<(microStart + microTokens)))
        }

        // The heads: lm_head and argmax for every output row, the stop head for HAMburger's.
        let total = microStart + microTokens
        guard total > 0 else {
            try backend.synchronize()
            return TickOutputs(tokens: [], stopProbabilities: [], logits: [:])
        }
        llama.lmHead(w.outputs.rows(0..<total), logits: w.logits.rows(0..<total), tokens: w.tokens.rows(0..<total))
        var reads = [w.tokens.rows(0..<total)]
        let stopRows = baseOutputs..<total
        if let hamburger, let scratch = w.stopScratch, !stopRows.isEmpty {
            hamburger.stopHead(w.outputs.rows(stopRows), scratch: scratch, out: w.stopProbabilities.rows(stopRows))
            reads.append(w.stopProbabilities.rows(stopRows))
        }
        let owners = outputOwners(plan)
        let logitRows = owners.enumerated().filter { running[$0.element].sampler != nil || running[$0.element].traceLogits }.map(\.offset)
        reads += logitRows.map { w.logits.row($0) }
        let read = try backend.read(reads)
        var result = TickOutputs(tokens: read[0].ids(), stopProbabilities: [Float](repeating: 1, count: total), logits: [:])
        if !stopRows.isEmpty {
            let probabilities = read[1].floats()
            for (k, row) in stopRows.enumerated() { result.stopProbabilities[row] = probabilities[k] }
        }
        let logitsStart = stopRows.isEmpty ? 1 : 2
        for (k, row) in logitRows.enumerated() { result.logits[row] = read[logitsStart + k].floats() }
        return result
    }

    /// The sequence of each output row: base-mode outputs, HAMburger base outputs, micro steps.
    private func outputOwners(_ plan: Scheduler.Plan) -> [Int] {
        let producing = plan.base.filter(\.producesToken)
        return producing.filter { !running[$0.sequence].isHAMburger }.map(\.sequence)
            + producing.filter { running[$0.sequence].isHAMburger }.map(\.sequence)
            + plan.micro.map(\.sequence)
    }

    // MARK: Applying the results

    private func apply(_ plan: Scheduler.Plan, _ out: TickOutputs, _ events: inout [EngineEvent]) {
        // What the base rows fed.
        for work in plan.base {
            var s = running[work.sequence]
            for row in work.rows {
                s.slots += 1
                s.position = row.nextPosition
                if row.fromPending { s.pendingStep = [] } else { s.promptFed += 1 }
                if case .merged = row.input { s.result.stats.mergedSteps += 1 }
            }
            running[work.sequence] = s
        }
        let tickEnd = now
        for (row, index) in outputOwners(plan).enumerated() {
            var token = out.tokens[row]
            let probability = out.stopProbabilities[row]
            let microStep = running[index].step.count
            guard token >= 0, probability.isFinite else {
                fail(index, .nonFinite(macroStep: running[index].result.steps.count, microStep: microStep), &events)
                continue
            }
            if let logits = out.logits[row] {
                if var sampler = running[index].sampler {
                    token = sampler.sample(logits)
                    running[index].sampler = sampler
                }
                if running[index].traceLogits {
                    events.append(.trace(running[index].id, MicroStepTrace(token: token, stopProbability: probability, logits: logits)))
                }
            }
            accept(token, probability: probability, index, at: tickEnd, &events)
        }
    }

    /// A token chosen for sequence `index`: the stop rule, stop tokens and the token limit decide
    /// whether its macro step, or the whole sequence, ends.
    private func accept(_ token: Int32, probability: Float, _ index: Int, at time: Double, _ events: inout [EngineEvent]) {
        var s = running[index]
        if s.firstToken == nil {
            s.firstToken = time
            s.result.stats.prefillSeconds = time - (s.started ?? time)
        }
        s.step.append(token)
        s.result.tokens.append(token)
        events.append(.token(s.id, token))
        let isStop = s.options.stopTokens.contains(token)
        let atLimit = s.result.tokens.count >= s.options.maxTokens
        var endsStep = !s.isHAMburger || isStop || atLimit || s.step.count >= (hamburger?.config.maxSteps ?? 1)
        switch s.options.stepRule {
        case .stopHead(let confidence): endsStep = endsStep || 1 - Double(probability) < confidence
        case .fixedLength(let k): endsStep = endsStep || s.step.count >= k
        }
        log.trace("sequence \(s.id) micro step \(s.step.count - 1): token \(token), p_stop \(probability)")
        guard endsStep else {
            s.phase = .micro(s.step.count)
            running[index] = s
            return
        }
        s.result.steps.append(s.step)
        events.append(.macroStep(s.id, s.step))
        log.trace("sequence \(s.id) macro step \(s.result.steps.count - 1): \(s.step), KV slots \(s.slots)")
        s.pendingStep = s.step
        s.pendingMerged = s.isHAMburger
        s.step = []
        s.phase = .feedStep
        running[index] = s
        if isStop {
            finish(index, reason: .stop, &events)
        } else if atLimit {
            finish(index, reason: .length, &events)
        }
    }

    private var finishedIndices: Set<Int> = []

    private func finish(_ index: Int, reason: FinishReason, _ events: inout [EngineEvent]) {
        guard !finishedIndices.contains(index) else { return }
        var s = running[index]
        s.result.finishReason = reason
        close(&s)
        events.append(.finished(s.id, s.result))
        if s.keepContext && reason != .cancelled {
            s.microIndex = nil
            kept[s.id] = s
        } else if options.prefixCaching && s.fresh && reason != .cancelled {
            pool.give(back: prefixCache.insert(tokens: cacheableTokens(s), blocks: s.blocks))
        } else {
            pool.give(back: s.blocks)
        }
        finishedIndices.insert(index)
    }

    /// The tokens whose KV a finished fresh sequence holds one per slot from slot 0: the prompt
    /// it fed, then in base mode the tokens it generated and fed (all but the last).
    private func cacheableTokens(_ s: SequenceState) -> [Int32] {
        let prompt = Array(s.prompt[..<s.promptFed])
        guard !s.isHAMburger, s.promptFed == s.prompt.count, s.slots > prompt.count else { return prompt }
        return prompt + s.result.tokens.prefix(s.slots - prompt.count)
    }

    private func fail(_ index: Int, _ error: GenerationError, _ events: inout [EngineEvent]) {
        guard !finishedIndices.contains(index) else { return }
        var s = running[index]
        close(&s)
        events.append(.failed(s.id, error, s.result))
        pool.give(back: s.blocks)
        finishedIndices.insert(index)
    }

    private func close(_ s: inout SequenceState) {
        let time = now
        if let first = s.firstToken { s.result.stats.decodeSeconds = time - first }
        s.result.stats.generatedTokens = s.result.tokens.count
        s.result.stats.macroSteps = s.result.steps.count
        s.result.stats.kvSlots = s.slots
        if let micro = s.microIndex { freeMicro.append(micro) }
        log.debug("sequence \(s.id): \(s.result.stats.generatedTokens) tokens in \(s.result.stats.macroSteps) macro steps, \(s.slots) KV slots")
    }

    private func removeFinished() {
        guard !finishedIndices.isEmpty else { return }
        running = running.enumerated().filter { !finishedIndices.contains($0.offset) }.map(\.element)
        finishedIndices = []
    }
}

/// Bytes of weights the parts of a step read: what decode speed is bounded by.
public struct WeightBytes: Sendable, Equatable {
    public var basePerForward: Int
    public var perMicroStep: Int
    public var stopHead: Int
    public var merger: Int
}
