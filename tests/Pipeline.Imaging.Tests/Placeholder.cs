namespace Pipeline.Imaging.Tests;
