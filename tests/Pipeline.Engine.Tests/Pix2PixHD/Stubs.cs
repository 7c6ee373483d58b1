namespace Pipeline.Engine.Tests.Pix2PixHD;
internal static class PreprocessCases { public static void Run(ParityCase c) => throw new NotImplementedException(); }
internal static class InferenceCases { public static void Run(ParityCase c) => throw new NotImplementedException(); }
