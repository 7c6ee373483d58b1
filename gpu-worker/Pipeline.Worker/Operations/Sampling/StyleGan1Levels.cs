namespace Pipeline.Worker.Operations.Sampling;

/// <summary>StyleGAN v1 output sizes and progressive levels (4 px at step 0), for sampling jobs and mixing grids alike.</summary>
public static class StyleGan1Levels
{
    /// <summary>size = 4 * 2^step, checked against the generator's levels.</summary>
    public static int StepOf(int size, int maxStep)
    {
        int step = (int)Math.Round(Math.Log2(size)) - 2;
        if (size < 4 || (4 << Math.Max(step, 0)) != size || step > maxStep)
            throw new ArgumentException($"--size {size} is not a generator resolution: use a power of two from 4 to {4 << maxStep}");
        return step;
    }

}
