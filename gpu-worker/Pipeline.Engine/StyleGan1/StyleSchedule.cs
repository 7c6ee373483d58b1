namespace Pipeline.Engine.StyleGan1;

/// <summary>
/// An inclusive range of generator levels fed by the second style (the reference's `mixing_range`). Levels are
/// 0-based; level i works at 4 * 2^i px. A range that contains no level means "first style everywhere".
/// </summary>
public readonly record struct MixingRange(int Lo, int Hi)
{
    /// <summary>4-8 px (levels 0-1), generate.py's choice.</summary>
    public static MixingRange Coarse => new(0, 1);
    /// <summary>16-32 px (levels 2-3).</summary>
    public static MixingRange Middle => new(2, 3);
    /// <summary>64 px and up (levels 4 to the last of a nine-level generator).</summary>
    public static MixingRange Fine => new(4, 8);

    public bool Contains(int level) => Lo <= level && level <= Hi;

    /// <summary>"coarse" | "middle" | "fine" | "lo-hi" (e.g. "2-3").</summary>
    public static MixingRange Parse(string text)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "coarse": return Coarse;
            case "middle": return Middle;
            case "fine": return Fine;
        }
        var parts = text.Split('-', ',', ':');
        if (parts.Length == 2 && int.TryParse(parts[0], out var lo) && int.TryParse(parts[1], out var hi))
            return new MixingRange(lo, hi);
        throw new FormatException($"unknown mixing range '{text}': use coarse, middle, fine or lo-hi level indices such as 2-3");
    }

    /// <summary>The seed-001 name of this range (coarse/middle/fine) or "lo-hi".</summary>
    public string Name => this == Coarse ? "coarse" : this == Middle ? "middle" : this == Fine ? "fine" : $"{Lo}-{Hi}";
}

/// <summary>Which of the caller's styles each generator level uses (spec section 3.1 step 1).</summary>
public static class StyleSchedule
{
    /// <summary>
    /// Style index per level 0..step. With a <paramref name="range"/>, levels inside it use style 1 and the others
    /// style 0 (extra styles are ignored). Without one (the reference's (-1, -1)), n >= 2 styles switch at the sorted
    /// crossover levels <paramref name="injectIndex"/> (n - 1 distinct values in 0..step-1): a level uses style k where
    /// k counts the inject indices below it. When injectIndex is null they are drawn from <paramref name="random"/>
    /// (the reference draws them from Python's `random`, which cannot be replayed; pass them for reproducibility).
    /// Unlike the reference, no draw happens (and no step >= n - 1 check) when a range is given: nothing uses it.
    /// </summary>
    public static int[] Resolve(int nStyles, int step, MixingRange? range, IReadOnlyList<int>? injectIndex = null, Random? random = null)
    {
        if (nStyles < 1) throw new ArgumentException("at least one style is required", nameof(nStyles));
        var result = new int[step + 1];
        if (nStyles == 1) return result;
        if (range is { } r)
        {
            for (int i = 0; i <= step; i++) result[i] = r.Contains(i) ? 1 : 0;
            return result;
        }
        var inject = injectIndex?.ToArray() ?? DrawInjectIndex(nStyles - 1, step, random ?? Random.Shared);
        Array.Sort(inject);
        if (inject.Length != nStyles - 1)
            throw new ArgumentException($"{nStyles} styles need {nStyles - 1} inject indices, got {inject.Length}", nameof(injectIndex));
        // Literal port of the reference loop: the crossover advances at most once per level.
        int crossover = 0;
        for (int i = 0; i <= step; i++)
        {
            if (crossover < inject.Length && i > inject[crossover]) crossover = Math.Min(crossover + 1, nStyles);
            result[i] = crossover;
        }
        return result;
    }

    /// <summary>
    /// The reference's crossover draw, sorted(random.sample(range(step), count)): <paramref name="count"/> distinct levels
    /// in 0..step-1, ascending. Same distribution, not the same stream (Python's generator cannot be replayed here).
    /// </summary>
    public static int[] DrawInjectIndex(int count, int step, Random random)
    {
        if (count > step)
            throw new ArgumentException($"random style crossover with {count + 1} styles needs step >= {count} (got step {step}); pass a mixing range or fewer styles");
        var pool = Enumerable.Range(0, step).ToArray();
        random.Shuffle(pool);
        var drawn = pool.Take(count).ToArray();
        Array.Sort(drawn);
        return drawn;
    }
}
