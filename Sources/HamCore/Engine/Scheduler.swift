/// What runs in a tick: policy, apart from the engine's mechanism.
///
/// - Every sequence in its micro steps runs its next micro step, and every sequence whose macro
///   step just ended feeds it to the base model (one row): decoding is never held back.
/// - Prompts are prefilled in chunks, oldest sequence first, up to `prefillTokensPerTick` rows per
///   tick. A joining prompt therefore costs the running sequences at most one chunk's time per
///   token (it bounds the inter-token latency), and a long prompt does not keep the others from
///   joining for long; the chunk is large enough that the products stay efficient. (vLLM's chunked
///   prefill makes the same trade.)
struct Scheduler {
    let prefillTokensPerTick: Int
    let maxSequences: Int

    struct Row {
        enum Input { case token(Int32), merged([Int32]) }
        let input: Input
        /// RoPE position of this input, and the sequence's position after it.
        let position: Int
        let nextPosition: Int
        /// The sequence's KV slot the row's key and value go to.
        let slot: Int
        /// Whether the row feeds the sequence's pending macro step (not a prompt token).
        let fromPending: Bool
    }

    struct BaseWork {
        let sequence: Int
        let rows: [Row]
        /// Whether the last row's output is a token (micro step 0, or base mode's next token).
        let producesToken: Bool
    }

    struct MicroWork {
        let sequence: Int
        /// The micro step to run, ≥ 1.
        let step: Int
    }

    struct Plan {
        var base: [BaseWork] = []
        var micro: [MicroWork] = []
        /// Sequences whose next input would not fit in the context.
        var contextFull: [Int] = []
    }

    func plan(_ running: [SequenceState], limit: Int, maxSteps: Int) -> Plan {
        var plan = Plan()
        for (i, s) in running.enumerated() {
            switch s.phase {
            case .micro(let step):
                plan.micro.append(MicroWork(sequence: i, step: step))
            case .feedStep:
                let rows = pendingRows(s)
                if let last = rows.last, last.position >= limit {
                    plan.contextFull.append(i)
                } else {
                    plan.base.append(BaseWork(sequence: i, rows: rows, producesToken: true))
                }
            case .prefill:
                break
            }
        }
        var budget = prefillTokensPerTick
        for (i, s) in running.enumerated() where s.phase == .prefill && budget > 0 {
            var rows = pendingRows(s)
            let chunk = min(s.promptLeft, budget - rows.count)
            guard chunk > 0 || s.promptLeft == 0 else { continue }
            var position = rows.last?.nextPosition ?? s.position
            for k in 0..<chunk {
                rows.append(Row(input: .token(s.prompt[s.promptFed + k]), position: position, nextPosition: position + 1,
                                slot: s.slots + rows.count, fromPending: false))
                position += 1
            }
            budget -= rows.count
            plan.base.append(BaseWork(sequence: i, rows: rows, producesToken: chunk == s.promptLeft))
        }
        return plan
    }

    /// The rows that feed a sequence's pending macro step: one merged input (HAMburger, two or more
    /// tokens), one plain token, or base mode's tokens.
    private func pendingRows(_ s: SequenceState) -> [Row] {
        let step = s.pendingStep
        guard !step.isEmpty else { return [] }
        if s.pendingMerged {
            let position = s.position + step.count - 1
            let input: Row.Input = step.count == 1 ? .token(step[0]) : .merged(step)
            return [Row(input: input, position: position, nextPosition: s.position + step.count, slot: s.slots, fromPending: true)]
        }
        return step.enumerated().map { k, t in
            Row(input: .token(t), position: s.position + k, nextPosition: s.position + k + 1, slot: s.slots + k, fromPending: true)
        }
    }
}
