using System.CommandLine;
using Pipeline.Imaging;
using Pipeline.Imaging.Faces;
using SkiaSharp;
using Spectre.Console;

namespace Pipeline.Worker.Cli.Imaging;

/// <summary>
/// `pipeline bench imaging`: decode and face-step timings (median of repeats) with ratios against the naive baseline
/// measured in the same run (Skia full decode + Skia Mitchell resize to 256).
/// </summary>
public sealed class ImagingBenchTarget : IBenchTarget
{
    public Command Build()
    {
        var image = new Option<FileInfo?>("--image") { Description = "Photo to decode (default: a synthetic 4000x3000 JPEG q92)." };
        var repeats = new Option<int>("--repeats") { Description = "Timed repeats per row (after one warm-up).", DefaultValueFactory = _ => 7 };
        var cascade = new Option<string>("--cascade") { Description = "Haar cascade XML.", DefaultValueFactory = _ => HaarCascade.DebianFrontalFaceAlt2 };
        var predictor = new Option<string?>("--shape-predictor") { Description = "dlib 68-point model (rows are skipped without it)." };
        var cmd = new Command("imaging", "Untrusted decode, resize, face detection, landmarks and FFHQ alignment timings.")
        {
            image, repeats, cascade, predictor,
        };
        cmd.SetAction(parse =>
        {
            var bytes = parse.GetValue(image) is { } f ? File.ReadAllBytes(f.FullName) : SyntheticJpeg();
            int n = Math.Max(1, parse.GetValue(repeats));
            var rows = new List<(string Name, double Ms)>();
            double Time(string name, Action a)
            {
                double ms = BenchTiming.Median(name, a, warmup: 1, repeats: n).TotalMilliseconds;
                rows.Add((name, ms));
                return ms;
            }

            double baseline = Time("baseline: Skia full decode + Mitchell resize to 256", () =>
            {
                using var bmp = SKBitmap.Decode(bytes);
                int w = 256, h = Math.Max(1, bmp.Height * 256 / bmp.Width);
                using var small = bmp.Resize(new SKImageInfo(w, h), new SKSamplingOptions(SKCubicResampler.Mitchell));
            });
            Time("ImageDecoder.Decode(target 256): checked, DCT-scaled + Lanczos3", () => ImageDecoder.DecodeOrThrow(bytes, targetMaxSide: 256));
            Time("ImageDecoder.Decode(full size), checked", () => ImageDecoder.DecodeOrThrow(bytes));
            Time("ImageDecoder.Probe (header only)", () => ImageDecoder.Probe(bytes));

            var decoded = ImageDecoder.DecodeOrThrow(bytes, targetMaxSide: 1024).Image;
            var cascadePath = parse.GetValue(cascade)!;
            if (File.Exists(cascadePath))
            {
                var detector = new FaceDetector(new FaceDetectorOptions { CascadePath = cascadePath });
                Time($"face detection ({decoded.Width}x{decoded.Height})", () => detector.Detect(decoded));
                var face = detector.Detect(decoded).Chosen;
                var box = face?.Box ?? new DlibRect(decoded.Width / 3, decoded.Height / 3, decoded.Width * 2 / 3, decoded.Width * 2 / 3 - decoded.Width / 3 + decoded.Height / 3);
                Time("fallback alignment 256 (box crop)", () => FfhqAligner.Warp(decoded, FaceAligner.FallbackPlanFor(decoded.Width, decoded.Height, box, 256), 256));
                if (parse.GetValue(predictor) is { } spPath && File.Exists(spPath))
                {
                    var sp = ShapePredictor.Load(spPath);
                    Time("68 landmarks", () => sp.Predict(decoded, box));
                    var lm = sp.Predict(decoded, box);
                    Time("FFHQ alignment 256 (transform 1024)", () => FfhqAligner.Align(decoded, lm, 256));
                }
            }

            var table = new Table().AddColumn("step").AddColumn(new TableColumn("median ms").RightAligned()).AddColumn(new TableColumn("baseline / this").RightAligned());
            foreach (var (name, ms) in rows)
                table.AddRow(Markup.Escape(name), ms.ToString("F1"), (baseline / ms).ToString("F2"));
            AnsiConsole.Write(table);
            return 0;
        });
        return cmd;
    }

    private static byte[] SyntheticJpeg()
    {
        var img = new RgbImage(4000, 3000);
        var rng = new Random(1);
        for (int y = 0; y < img.Height; y++)
            for (int x = 0; x < img.Width; x++)
            {
                int i = (y * img.Width + x) * 3;
                img.Pixels[i] = (byte)(x * 255 / 3999);
                img.Pixels[i + 1] = (byte)(y * 255 / 2999);
                img.Pixels[i + 2] = (byte)(128 + 60 * Math.Sin(x * 0.05) * Math.Cos(y * 0.03) + rng.Next(-20, 21));
            }
        return img.EncodeJpeg(92);
    }
}
