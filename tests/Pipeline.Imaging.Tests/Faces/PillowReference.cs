using System.Diagnostics;
using Pipeline.Tests;

namespace Pipeline.Imaging.Tests;

/// <summary>
/// Runs Faces/reference/ffhq_reference.py (Pillow 9.4 + numpy + scipy from Debian) to produce reference images.
/// Tests that use it skip with the install command when python3 or those modules are absent.
/// </summary>
internal static class PillowReference
{
    private static readonly Lazy<string?> Missing = new(() =>
    {
        try
        {
            var (code, output) = Run("-c", "import PIL, numpy, scipy");
            return code == 0 ? null : output;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return e.Message;
        }
    });

    public static string Script => Path.Combine(TestPaths.RepoRoot, "tests", "Pipeline.Imaging.Tests", "Faces", "reference", "ffhq_reference.py");

    public static void Require()
    {
        if (Missing.Value is string why)
            Requirement.Skip($"Pillow reference unavailable ({why.Trim()}): apt-get install python3-pil python3-numpy python3-scipy (build/prereqs.d/20-faces.sh does).");
    }

    public static RgbImage Call(params string[] args)
    {
        var (code, output) = Run([Script, .. args]);
        Assert.True(code == 0, $"reference script failed ({code}): {output}");
        return ImageDecoder.Decode(File.ReadAllBytes(args[^1]), new DecodeLimits { MinSide = 1 }).GetValueOrThrow().Image;
    }

    /// <summary>Re-encodes a PNG as a JPEG variant Skia cannot write (progressive, cmyk, grey); returns the bytes.</summary>
    public static byte[] Convert(string input, string output, string variant)
    {
        var (code, text) = Run([Script, "jpeg", input, variant, output]);
        Assert.True(code == 0, $"reference script failed ({code}): {text}");
        return File.ReadAllBytes(output);
    }

    private static (int Code, string Output) Run(params string[] args)
    {
        // Debian's python3-pil lives with /usr/bin/python3; a pyenv/venv python3 earlier on PATH would not see it.
        var python = Environment.GetEnvironmentVariable("PIPELINE_PYTHON") ?? (File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
        var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            p.Kill(true);
            return (-1, "timed out");
        }
        return (p.ExitCode, stdout + stderr.Result);
    }
}
