namespace Pipeline.Infra.Contracts;

/// <summary>
/// Validation of names that end up in blob paths. User-supplied names must never escape their prefix:
/// no "..", no "." or empty segments, no absolute or drive paths, no backslashes, no control characters, bounded length.
/// </summary>
public static class BlobNames
{
    /// <summary>Longest relative name accepted (Azure allows 1024 for the whole path; the prefix needs room).</summary>
    public const int MaxRelativeLength = 512;
    /// <summary>Longest id accepted (job ids, batch ids, metric names).</summary>
    public const int MaxIdLength = 128;
    /// <summary>Most path segments in a relative name.</summary>
    public const int MaxSegments = 16;

    /// <summary>True when <paramref name="name"/> is a safe relative blob name ("a/b.png").</summary>
    public static bool IsSafeRelative(string? name, out string reason)
    {
        reason = "";
        if (string.IsNullOrEmpty(name)) { reason = "name is empty"; return false; }
        if (name.Length > MaxRelativeLength) { reason = $"name is {name.Length} characters, over the {MaxRelativeLength} limit"; return false; }
        if (name[0] == '/') { reason = "name is an absolute path"; return false; }
        if (name.Contains('\\')) { reason = "name contains a backslash"; return false; }
        if (name.Length >= 2 && name[1] == ':') { reason = "name looks like a drive path"; return false; }
        foreach (var c in name)
        {
            if (char.IsControl(c)) { reason = "name contains a control character"; return false; }
            if (c is '?' or '#' or '%' or '*' or '"' or '<' or '>' or '|') { reason = $"name contains '{c}'"; return false; }
        }
        var segments = name.Split('/');
        if (segments.Length > MaxSegments) { reason = $"name has more than {MaxSegments} segments"; return false; }
        foreach (var s in segments)
        {
            if (s.Length == 0) { reason = "name has an empty segment (\"//\" or a trailing '/')"; return false; }
            if (s is "." or "..") { reason = $"name has a '{s}' segment"; return false; }
            if (s != s.Trim()) { reason = "a segment starts or ends with white space"; return false; }
            if (s.EndsWith('.')) { reason = "a segment ends with '.'"; return false; }
        }
        return true;
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="name"/> is a safe relative name; returns it.</summary>
    public static string RequireSafeRelative(string? name, string paramName = "name") =>
        IsSafeRelative(name, out var why) ? name! : throw new ArgumentException($"Unsafe blob name '{Printable(name)}': {why}.", paramName);

    /// <summary>True for an id: 1..128 of [A-Za-z0-9._-], not starting with '.' or '-'.</summary>
    public static bool IsSafeId(string? id, out string reason)
    {
        reason = "";
        if (string.IsNullOrEmpty(id)) { reason = "id is empty"; return false; }
        if (id.Length > MaxIdLength) { reason = $"id is {id.Length} characters, over the {MaxIdLength} limit"; return false; }
        if (id[0] is '.' or '-') { reason = "id starts with '.' or '-'"; return false; }
        foreach (var c in id)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')) { reason = $"id contains '{Printable(c.ToString())}' (allowed: letters, digits, '.', '_', '-')"; return false; }
        return true;
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="id"/> is a safe id; returns it.</summary>
    public static string RequireSafeId(string? id, string paramName = "id") =>
        IsSafeId(id, out var why) ? id! : throw new ArgumentException($"Unsafe id '{Printable(id)}': {why}.", paramName);

    private static string Printable(string? s) =>
        s is null ? "(null)" : new string(s.Take(80).Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
