namespace Pipeline.Functions.Tests;
