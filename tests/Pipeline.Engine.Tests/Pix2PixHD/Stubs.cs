namespace Pipeline.Engine.Tests.Pix2PixHD;
internal static class InferenceCases { public static void Run(ParityCase c) => throw new NotImplementedException(); }
