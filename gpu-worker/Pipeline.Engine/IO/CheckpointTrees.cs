using static TorchSharp.torch;

namespace Pipeline.Engine.IO;

/// <summary>
/// Frees the tensors of an unpickled checkpoint tree (<see cref="TorchFile.Load(string)"/>) once models have copied
/// what they need. Without this a long-running worker leaves every checkpoint's weights, optimiser states included,
/// to the garbage collector, which does not see native memory and so may not run for a long time.
/// </summary>
public static class CheckpointTrees
{
    /// <summary>
    /// Disposes every tensor in <paramref name="tree"/> (dicts, lists, tuples) except the objects in
    /// <paramref name="keep"/>, which something adopted as is. Returns how many it disposed.
    /// </summary>
    public static int DisposeTensors(object? tree, params Tensor?[] keep)
    {
        var kept = new HashSet<Tensor>(keep.OfType<Tensor>(), ReferenceEqualityComparer.Instance);
        int disposed = 0;
        void Walk(object? node)
        {
            switch (node)
            {
                case Tensor t when !kept.Contains(t) && !t.IsInvalid:
                    t.Dispose();
                    disposed++;
                    break;
                case OrderedDictionary<string, object?> d:
                    foreach (var v in d.Values) Walk(v);
                    break;
                case List<object?> l:
                    foreach (var v in l) Walk(v);
                    break;
                case object?[] a:
                    foreach (var v in a) Walk(v);
                    break;
            }
        }
        Walk(tree);
        return disposed;
    }
}
