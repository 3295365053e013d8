@{
    Synopsis    = 'Deletes saved PmpMail profiles.'
    Description = 'Unregister-PmpMailProfile deletes the profile files of the given names. Names bind from the pipeline, so Get-PmpMailProfile output can be piped in. It does not touch certificates in the store or environment variables.'
    Parameters  = @{ Name = 'The names of the profiles to delete (no wildcards; pipe Get-PmpMailProfile output for patterns).' }
    Inputs      = @{ 'PmpMail.PmpMailProfile' = 'Profiles from Get-PmpMailProfile (Name by property name).' }
    Examples    = @(
        @{ Title = 'Delete one profile'; Code = 'Unregister-PmpMailProfile -Name ''old-tenant'''; Remarks = 'Asks for confirmation when $ConfirmPreference is Medium or lower.' }
        @{ Title = 'Delete by pattern'; Code = 'Get-PmpMailProfile -Name ''test-*'' | Unregister-PmpMailProfile -Confirm:$false'; Remarks = 'Deletes every profile whose name starts with test-.' }
    )
    Links       = @('Register-PmpMailProfile', 'Get-PmpMailProfile')
}
