namespace Pipeline.Engine.Pix2PixHD;

/// <summary>Normalisation layer of G, D and E (`--norm`).</summary>
public enum NormKind
{
    /// <summary>InstanceNorm2d without affine parameters or running stats (no state_dict entries).</summary>
    Instance,
    /// <summary>BatchNorm2d with affine; always normalised with batch statistics, as the reference never calls eval().</summary>
    Batch,
}

/// <summary>
/// The reference's options that change numbers (spec section 1), with the reference defaults.
/// Property names follow the reference's option names so a user can map `--opt value` one to one.
/// </summary>
public sealed record Pix2PixHDOptions
{
    public int LabelNc { get; init; } = 35;
    public int InputNc { get; init; } = 3;
    public int OutputNc { get; init; } = 3;
    /// <summary>"global" or "local".</summary>
    public string NetG { get; init; } = "global";
    public int Ngf { get; init; } = 64;
    public int NDownsampleGlobal { get; init; } = 4;
    public int NBlocksGlobal { get; init; } = 9;
    public int NLocalEnhancers { get; init; } = 1;
    public int NBlocksLocal { get; init; } = 3;
    public NormKind Norm { get; init; } = NormKind.Instance;
    public bool NoInstance { get; init; }
    public bool InstanceFeat { get; init; }
    public bool LabelFeat { get; init; }
    public int FeatNum { get; init; } = 3;
    public int Nef { get; init; } = 16;
    public int NDownsampleE { get; init; } = 4;
    public int Ndf { get; init; } = 64;
    public int NLayersD { get; init; } = 3;
    public int NumD { get; init; } = 2;
    public double LambdaFeat { get; init; } = 10.0;
    public bool NoGanFeatLoss { get; init; }
    public bool NoVggLoss { get; init; }
    public bool NoLsgan { get; init; }
    /// <summary>`resize_and_crop`, `crop`, `scale_width`, `scale_width_and_crop` or `none`.</summary>
    public string ResizeOrCrop { get; init; } = "scale_width";
    public int LoadSize { get; init; } = 1024;
    public int FineSize { get; init; } = 512;

    /// <summary>True when G gets encoded-feature channels (instance_feat or label_feat).</summary>
    public bool UsesFeatures => InstanceFeat || LabelFeat;

    /// <summary>Channels of the label part of the input: label_nc classes, or input_nc image channels when label_nc is 0.</summary>
    public int BaseNc => LabelNc != 0 ? LabelNc : InputNc;

    /// <summary>G input: classes (or image), edge unless no_instance, features when used.</summary>
    public int NetGInputNc => BaseNc + (NoInstance ? 0 : 1) + (UsesFeatures ? FeatNum : 0);

    /// <summary>D input: classes (or image), edge unless no_instance, then the photo. Never the feature channels.</summary>
    public int NetDInputNc => BaseNc + (NoInstance ? 0 : 1) + OutputNc;

    /// <summary>Inputs must be multiples of this for `resize_or_crop none` (and for the local enhancer to work at all).</summary>
    public int SizeBase => (1 << NDownsampleGlobal) * (NetG == "local" ? 1 << NLocalEnhancers : 1);

    /// <summary>Throws when a value is outside what the reference accepts.</summary>
    public void Validate()
    {
        if (LabelNc < 0) throw new ArgumentOutOfRangeException(nameof(LabelNc), LabelNc, "label_nc must be >= 0");
        if (NetG is not ("global" or "local")) throw new ArgumentException($"netG '{NetG}' is not supported: use 'global' or 'local'", nameof(NetG));
        if (Ngf <= 0 || Ndf <= 0 || Nef <= 0) throw new ArgumentException("ngf, ndf and nef must be positive");
        if (NetG == "local" && NLocalEnhancers < 1) throw new ArgumentException("netG local needs n_local_enhancers >= 1");
        if (ResizeOrCrop is not ("resize_and_crop" or "crop" or "scale_width" or "scale_width_and_crop" or "none"))
            throw new ArgumentException($"resize_or_crop '{ResizeOrCrop}' is not one of resize_and_crop, crop, scale_width, scale_width_and_crop, none", nameof(ResizeOrCrop));
    }
}
