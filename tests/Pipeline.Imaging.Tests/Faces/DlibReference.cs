using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Pipeline.Imaging.Faces;
using Pipeline.Tests;

namespace Pipeline.Imaging.Tests;

/// <summary>
/// dlib itself as the landmark reference: Faces/reference/dlib_landmarks.cpp compiled against Debian libdlib-dev
/// (cached per source hash in the temp folder). Tests skip with the install command when g++ or the headers are absent.
/// </summary>
internal static class DlibReference
{
    private static readonly Lazy<(string? Exe, string? Why)> Built = new(Build);

    private static string Source => Path.Combine(TestPaths.RepoRoot, "tests", "Pipeline.Imaging.Tests", "Faces", "reference", "dlib_landmarks.cpp");

    public static string Require()
    {
        var (exe, why) = Built.Value;
        // Installed but not compiling is a broken reference, not a missing one: fail so it gets fixed.
        if (why?.StartsWith("g++ failed", StringComparison.Ordinal) == true) Assert.Fail("dlib reference did not compile: " + why);
        if (exe is null) Requirement.Skip($"dlib reference unavailable ({why}): apt-get install g++ libdlib-dev (build/prereqs.d/20-faces.sh does).");
        return exe;
    }

    private static (string?, string?) Build()
    {
        if (!File.Exists("/usr/include/dlib/image_processing.h")) return (null, "no /usr/include/dlib");
        var hash = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Source)))[..16];
        var dir = Path.Combine(Path.GetTempPath(), "pipeline-dlib-ref-" + hash);
        var exe = Path.Combine(dir, "dlib_landmarks");
        if (File.Exists(exe)) return (exe, null);
        Directory.CreateDirectory(dir);
        var tmp = exe + "." + Environment.ProcessId;
        try
        {
            var (code, output) = Run("g++", "-O1", "-std=c++14", Source, "-o", tmp, "-ldlib", "-l:libblas.so.3", "-l:liblapack.so.3");
            if (code != 0) return (null, "g++ failed: " + output[..Math.Min(500, output.Length)]);
            File.Move(tmp, exe, overwrite: true);
            return (exe, null);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (null, e.Message);
        }
    }

    /// <summary>dlib's 68 points for <paramref name="image"/> and <paramref name="box"/>.</summary>
    public static PointF2[] Predict(string modelPath, RgbImage image, DlibRect box)
    {
        var exe = Require();
        var ppm = Path.GetTempFileName();
        try
        {
            using (var f = File.Create(ppm))
            {
                f.Write(Encoding.ASCII.GetBytes($"P6\n{image.Width} {image.Height}\n255\n"));
                f.Write(image.Pixels);
            }
            var (code, output) = Run(exe, modelPath, ppm, box.Left.ToString(), box.Top.ToString(), box.Right.ToString(), box.Bottom.ToString());
            Assert.True(code == 0, $"dlib reference failed ({code}): {output}");
            return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => l.Split(' '))
                .Select(t => new PointF2(double.Parse(t[0]), double.Parse(t[1])))
                .ToArray();
        }
        finally
        {
            File.Delete(ppm);
        }
    }

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
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
