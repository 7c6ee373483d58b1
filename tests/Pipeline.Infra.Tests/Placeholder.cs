namespace Pipeline.Infra.Tests;
